import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { getRun, isIsoDate, listRuns, listTaskInstances, summarizeDag } from '../dag/index.ts';
import type { Dag, JsonObject } from '../dag/types.ts';
import { errorMessage, UsageError } from '../errors.ts';
import type { Clock } from '../scheduler/clock.ts';
import { triggerRun } from '../scheduler/trigger.ts';
import type { Store } from '../store/index.ts';
import { bearerTokenMatches } from './auth.ts';
import { runBody, taskInstanceBody } from './summaries.ts';

export interface ApiOptions {
  store: Store;
  dags: readonly Dag[];
  /**
   * The bearer token that mutations need. Without one, every mutation is refused (403): reads
   * only. A server without a token may only listen on loopback (see startApiServer).
   */
  apiToken: string | undefined;
  clock?: Clock;
}

interface CreateRunBody {
  logicalDate?: string;
  conf?: JsonObject;
}

const createRunSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    logicalDate: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    conf: { type: 'object' },
  },
} as const;

/** A 400 body that names the field and says why. */
function badRequest(field: string, message: string) {
  return { error: 'bad_request', field, message };
}

/** The HTTP API: DAGs, runs, and run creation. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const { store } = options;
  const dagsById = new Map(options.dags.map((dag) => [dag.id, dag]));
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // Stop at the first problem: the 400 names that field and why. No type coercion.
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    if (options.apiToken === undefined) {
      return reply.code(403).send({
        error: 'forbidden',
        message: 'this server has no NIGHTSHIFT_API_TOKEN: it serves reads only',
      });
    }
    if (!bearerTokenMatches(request.headers.authorization, options.apiToken)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'expected Authorization: Bearer <NIGHTSHIFT_API_TOKEN>' });
    }
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation) {
      const first = error.validation[0];
      const params = (first?.params ?? {}) as Record<string, unknown>;
      const path = (first?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
      const field =
        typeof params.additionalProperty === 'string'
          ? params.additionalProperty
          : typeof params.missingProperty === 'string'
            ? params.missingProperty
            : path || 'body';
      let message = first?.message ?? error.message;
      if (typeof params.additionalProperty === 'string')
        message = `unknown field: expected logicalDate or conf`;
      else if (field === 'logicalDate' && first?.keyword === 'pattern')
        message = 'must be a date as YYYY-MM-DD';
      return reply.code(400).send(badRequest(field, message));
    }
    if (
      error.statusCode === 400 ||
      error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
      error.statusCode === 415
    ) {
      return reply.code(error.statusCode ?? 400).send(badRequest('body', error.message));
    }
    if (error.statusCode && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: 'request_error', message: error.message });
    }
    return reply.code(500).send({ error: 'internal_error', message: errorMessage(error) });
  });

  app.get('/api/dags', async () => options.dags.map(summarizeDag));

  app.post<{ Params: { id: string }; Body: CreateRunBody | undefined }>(
    '/api/dags/:id/runs',
    {
      schema: { body: createRunSchema },
      // No body at all is the empty body: both fields are optional.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => {
      const dag = dagsById.get(request.params.id);
      if (!dag)
        return reply.code(404).send({ error: 'not_found', message: `unknown DAG '${request.params.id}'` });
      const body = request.body ?? {};
      if (body.logicalDate !== undefined && !isIsoDate(body.logicalDate)) {
        return reply
          .code(400)
          .send(badRequest('logicalDate', `'${body.logicalDate}' is not a calendar date`));
      }
      let result: Awaited<ReturnType<typeof triggerRun>>;
      try {
        result = await triggerRun(store, dag, {
          date: body.logicalDate,
          conf: body.conf,
          now: (options.clock ?? (() => new Date()))(),
        });
      } catch (error) {
        if (error instanceof UsageError)
          return reply.code(400).send(badRequest('logicalDate', error.message));
        throw error;
      }
      const run = runBody(result.run, dag.timezone);
      if (!result.created) {
        return reply.code(409).send({
          error: 'conflict',
          message: `run ${run.runId} of ${dag.id} for ${run.logicalDate} already exists (${run.state})`,
          ...run,
        });
      }
      return reply.code(201).header('location', `/api/runs/${run.runId}`).send(run);
    },
  );

  app.get<{ Querystring: { dag?: string; limit?: number } }>(
    '/api/runs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { dag: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
      },
    },
    async (request) => {
      const runs = await listRuns(store, { dagId: request.query.dag, limit: request.query.limit ?? 100 });
      return runs.map((run) => runBody(run, dagsById.get(run.dagId)?.timezone));
    },
  );

  app.get<{ Params: { id: string } }>('/api/runs/:id', async (request, reply) => {
    const id = Number(request.params.id);
    if (!/^\d+$/.test(request.params.id) || !Number.isSafeInteger(id) || id > 2 ** 31 - 1) {
      return reply.code(400).send(badRequest('id', 'expected a positive integer run id'));
    }
    const run = await getRun(store, id);
    if (!run) return reply.code(404).send({ error: 'not_found', message: `no run ${id}` });
    const tasks = await listTaskInstances(store, id);
    return { ...runBody(run, dagsById.get(run.dagId)?.timezone), tasks: tasks.map(taskInstanceBody) };
  });

  return app;
}

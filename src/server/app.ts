import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { getRun, isIsoDate, listRuns, listTaskInstances, summarizeDag } from '../dag/index.ts';
import type { Dag, JsonObject } from '../dag/types.ts';
import { UsageError } from '../errors.ts';
import { type Logger, rootLogger } from '../log.ts';
import type { Clock } from '../scheduler/clock.ts';
import { triggerRun } from '../scheduler/trigger.ts';
import type { Store } from '../store/index.ts';
import { bearerTokenMatches } from './auth.ts';
import { runBody, taskInstanceBody } from './summaries.ts';

export interface ApiOptions {
  store: Store;
  dags: readonly Dag[];
  /**
   * The bearer token that every request needs, reads included. Without one, every mutation is
   * refused (403) and reads are open: a server without a token may only listen on loopback (see
   * startApiServer).
   */
  apiToken: string | undefined;
  /**
   * With a token: serve GET routes without it (mutations still need it). Only on loopback (see
   * startApiServer): run conf, task outputs and error texts are not for the network.
   */
  openReads?: boolean;
  clock?: Clock;
  /** Where a 500's error goes, with its request id. Default: the root logger. */
  log?: Logger;
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

const isRead = (request: FastifyRequest) =>
  request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS';

/**
 * The `limit` query parameter: an integer from 1 to 1000 as the query string's text (query
 * strings are text; the body's schema does not coerce types, so this one is parsed here).
 */
function parseLimit(value: string | undefined): number | string {
  if (value === undefined) return 100;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 1000)
    return `'${value.slice(0, 20)}' is not an integer from 1 to 1000`;
  return Number(value);
}

/** The HTTP API: DAGs, runs, and run creation. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const { store } = options;
  const log = options.log ?? rootLogger().child({ component: 'api' });
  const dagsById = new Map(options.dags.map((dag) => [dag.id, dag]));
  const app = Fastify({
    logger: false,
    // A 500 names this id; the log line of its error carries it.
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    // Stop at the first problem: the 400 names that field and why. No type coercion.
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (isRead(request) && (options.apiToken === undefined || options.openReads)) return;
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

  app.setErrorHandler((error: FastifyError, request, reply) => {
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
    // The cause stays in the log: a message can hold SQL, paths or connection details.
    log.error(
      { err: error, requestId: request.id, method: request.method, url: request.url },
      'request failed',
    );
    return reply
      .code(500)
      .send({ error: 'internal_error', message: 'internal error', requestId: request.id });
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

  app.get<{ Querystring: { dag?: string; limit?: string } }>(
    '/api/runs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { dag: { type: 'string' }, limit: { type: 'string' } },
        },
      },
    },
    async (request, reply) => {
      const limit = parseLimit(request.query.limit);
      if (typeof limit === 'string') return reply.code(400).send(badRequest('limit', limit));
      const runs = await listRuns(store, { dagId: request.query.dag, limit });
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

import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDag, runDag } from '../../src/dag/index.ts';
import { bearerTokenMatches, buildApi, isLoopbackHost, startApiServer } from '../../src/server/index.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

const nightly = defineDag({
  id: 'nightly',
  description: 'a test DAG',
  schedule: '0 2 * * *',
  timezone: 'Europe/Paris',
  startDate: '2001-01-01',
  tasks: [
    { id: 'extract', run: ({ ds }) => ({ rows: 3, ds }) },
    { id: 'load', deps: ['extract'], run: () => 'done' },
  ],
});

describe('API auth helpers', () => {
  it('compares bearer tokens whatever their length, and only exact ones match', () => {
    expect(bearerTokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerTokenMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerTokenMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerTokenMatches('Bearer x', TOKEN)).toBe(false);
    expect(bearerTokenMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerTokenMatches(undefined, TOKEN)).toBe(false);
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
  });
});

describe.each(storeKinds())('HTTP API on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  let app: FastifyInstance;
  beforeAll(async () => {
    if (skip) return;
    env = await openTestEnvironment(kind);
    app = buildApi({
      store: env.store,
      dags: [nightly],
      apiToken: TOKEN,
      clock: () => new Date('2001-03-10T12:00:00Z'),
    });
  });
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  const post = (body: unknown, headers: Record<string, string> = auth, dag = 'nightly') =>
    app.inject({ method: 'POST', url: `/api/dags/${dag}/runs`, headers, payload: body as object });

  it.skipIf(skip)(
    'refuses a POST without the token (401) or with a wrong one, creating nothing',
    async () => {
      const none = await post({ logicalDate: '2001-02-01' }, {});
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      const wrong = await post({ logicalDate: '2001-02-01' }, { authorization: 'Bearer nope' });
      expect(wrong.statusCode).toBe(401);
      const { rows } = await env.store.query<{ n: number }>('SELECT count(*)::int AS n FROM dag_runs');
      expect(rows[0]?.n).toBe(0);
    },
  );

  it.skipIf(skip)(
    'creates a queued manual run (201 with its id); the same date again is a 409 with that id',
    async () => {
      const created = await post({ logicalDate: '2001-02-01', conf: { note: 'x' } });
      expect(created.statusCode).toBe(201);
      const body = created.json();
      expect(body).toMatchObject({
        dagId: 'nightly',
        logicalDate: '2001-02-01',
        state: 'queued',
        runType: 'manual',
        conf: { note: 'x' },
        dataInterval: { start: '2001-02-01T01:00:00.000Z', end: '2001-02-02T01:00:00.000Z' },
      });
      expect(typeof body.runId).toBe('number');
      expect(created.headers.location).toBe(`/api/runs/${body.runId}`);
      const again = await post({ logicalDate: '2001-02-01' });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ error: 'conflict', runId: body.runId });
    },
  );

  it.skipIf(skip)('without a date creates the latest complete interval', async () => {
    const created = await post(undefined);
    expect(created.statusCode).toBe(201);
    expect(created.json().logicalDate).toBe('2001-03-09');
  });

  it.skipIf(skip)('answers a malformed body with a 400 naming the field and why', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ logicalDate: '01/02/2001' }, 'logicalDate', /YYYY-MM-DD/],
      [{ logicalDate: '2001-02-30' }, 'logicalDate', /not a calendar date/],
      [{ logicalDate: 20010201 }, 'logicalDate', /must be string/],
      [{ conf: [1, 2] }, 'conf', /must be object/],
      [{ conf: 'x' }, 'conf', /must be object/],
      [{ logicalDate: '2001-02-01', extra: 1 }, 'extra', /unknown field/],
      [[1], 'body', /must be object/],
    ];
    for (const [payload, field, message] of cases) {
      const response = await post(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json(), JSON.stringify(payload)).toMatchObject({ error: 'bad_request', field });
      expect(response.json().message, JSON.stringify(payload)).toMatch(message);
    }
    const notJson = await app.inject({
      method: 'POST',
      url: '/api/dags/nightly/runs',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"logicalDate": ',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toMatchObject({ error: 'bad_request', field: 'body' });
  });

  it.skipIf(skip)('404s an unknown DAG, after checking the token', async () => {
    expect((await post({}, {}, 'nope')).statusCode).toBe(401);
    expect((await post({}, auth, 'nope')).statusCode).toBe(404);
  });

  const get = (url: string, headers: Record<string, string> = auth) =>
    app.inject({ method: 'GET', url, headers });

  it.skipIf(skip)('lists DAGs and runs, and shows a run with its task states and outputs', async () => {
    const dags = await get('/api/dags');
    expect(dags.json()).toMatchObject([{ id: 'nightly', schedule: '0 2 * * *', timezone: 'Europe/Paris' }]);

    const result = await runDag({
      store: env.store,
      config: env.config,
      dag: nightly,
      logicalDate: new Date('2001-02-05T01:00:00Z'),
    });
    const runs = await get('/api/runs?dag=nightly');
    expect(runs.statusCode).toBe(200);
    expect(runs.json().map((run: { logicalDate: string }) => run.logicalDate)).toEqual([
      '2001-03-09',
      '2001-02-05',
      '2001-02-01',
    ]);
    const shown = await get(`/api/runs/${result.run.id}`);
    expect(shown.json()).toMatchObject({
      runId: result.run.id,
      state: 'success',
      tasks: [
        { taskId: 'extract', state: 'success', attempts: 1, outputs: { rows: 3, ds: '2001-02-05' } },
        { taskId: 'load', state: 'success', attempts: 1, outputs: 'done' },
      ],
    });
    expect((await get('/api/runs/999999')).statusCode).toBe(404);
    expect((await get('/api/runs/abc')).json()).toMatchObject({ field: 'id' });
  });

  it.skipIf(skip)(
    'takes ?limit=N from the query string, and 400s a limit that is not 1 to 1000',
    async () => {
      const limited = await get('/api/runs?limit=2');
      expect(limited.statusCode).toBe(200);
      expect(limited.json().map((run: { logicalDate: string }) => run.logicalDate)).toEqual([
        '2001-03-09',
        '2001-02-05',
      ]);
      expect((await get('/api/runs?dag=nightly&limit=1')).json()).toHaveLength(1);
      for (const bad of ['0', '1001', 'abc', '2.5', '-1', '']) {
        const response = await get(`/api/runs?limit=${bad}`);
        expect(response.statusCode, bad).toBe(400);
        expect(response.json(), bad).toMatchObject({ error: 'bad_request', field: 'limit' });
      }
    },
  );

  it.skipIf(skip)('needs the token for every read when one is configured', async () => {
    const runId = (await get('/api/runs?limit=1')).json()[0].runId as number;
    for (const url of ['/api/dags', '/api/runs', '/api/runs?dag=nightly', `/api/runs/${runId}`]) {
      const none = await get(url, {});
      expect(none.statusCode, url).toBe(401);
      expect(none.body, url).not.toMatch(/nightly|2001-/);
      expect((await get(url, { authorization: 'Bearer wrong-token-0123456789' })).statusCode, url).toBe(401);
      expect((await get(url)).statusCode, url).toBe(200);
    }
  });

  it.skipIf(skip)('with openReads serves reads without the token, and mutations still need it', async () => {
    const open = buildApi({ store: env.store, dags: [nightly], apiToken: TOKEN, openReads: true });
    try {
      expect((await open.inject({ method: 'GET', url: '/api/runs?limit=1' })).statusCode).toBe(200);
      const post = await open.inject({ method: 'POST', url: '/api/dags/nightly/runs', payload: {} });
      expect(post.statusCode).toBe(401);
    } finally {
      await open.close();
    }
  });

  it.skipIf(skip)('answers a failure with "internal error" and a request id that the log has', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const failing = buildApi({ store: env.store, dags: [nightly], apiToken: TOKEN, log });
    await env.store.query('ALTER TABLE dag_runs RENAME TO dag_runs_away');
    try {
      const response = await failing.inject({ method: 'GET', url: '/api/runs', headers: auth });
      expect(response.statusCode).toBe(500);
      const body = response.json();
      expect(body).toEqual({
        error: 'internal_error',
        message: 'internal error',
        requestId: expect.any(String),
      });
      expect(response.body).not.toMatch(/dag_runs/);
      const logged = lines.map((line) => JSON.parse(line)).find((line) => line.requestId === body.requestId);
      expect(logged?.err?.message).toMatch(/dag_runs/);
      expect(logged?.url).toBe('/api/runs');
    } finally {
      await env.store.query('ALTER TABLE dag_runs_away RENAME TO dag_runs');
      await failing.close();
    }
  });
});

describe.each(storeKinds().slice(0, 1))('HTTP API over a real port ($kind store)', ({ kind }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('serves on 127.0.0.1: 401 without the token, 201 and a run id with it, 400 for a bad body', async () => {
    const { app, url } = await startApiServer({
      store: env.store,
      dags: [nightly],
      apiToken: TOKEN,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const send = (body: string, headers: Record<string, string>) =>
        fetch(`${url}/api/dags/nightly/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
      expect((await send('{"logicalDate":"2001-02-01"}', {})).status).toBe(401);
      const created = await send('{"logicalDate":"2001-02-01"}', auth);
      expect(created.status).toBe(201);
      expect(((await created.json()) as { runId: unknown }).runId).toEqual(expect.any(Number));
      const bad = await send('{"logicalDate":"yesterday"}', auth);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ field: 'logicalDate' });
      expect((await fetch(`${url}/api/runs`)).status).toBe(401);
      expect((await fetch(`${url}/api/runs`, { headers: auth })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('refuses to listen beyond loopback without a token, and serves reads only on loopback', async () => {
    await expect(
      startApiServer({ store: env.store, dags: [nightly], apiToken: undefined, host: '0.0.0.0', port: 0 }),
    ).rejects.toThrow(/without NIGHTSHIFT_API_TOKEN/);
    await expect(
      startApiServer({
        store: env.store,
        dags: [nightly],
        apiToken: TOKEN,
        openReads: true,
        host: '0.0.0.0',
        port: 0,
      }),
    ).rejects.toThrow(/--open-reads.*loopback only/);
    const { app, url } = await startApiServer({
      store: env.store,
      dags: [nightly],
      apiToken: undefined,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      expect((await fetch(`${url}/api/dags`)).status).toBe(200);
      const post = await fetch(`${url}/api/dags/nightly/runs`, { method: 'POST' });
      expect(post.status).toBe(403);
    } finally {
      await app.close();
    }
  });
});

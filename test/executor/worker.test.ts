import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDag, listRuns, listTaskAttempts, listTaskInstances, runDag } from '../../src/dag/index.ts';
import { claimTaskInstances } from '../../src/dag/sql/claimTaskInstances.ts';
import type { Dag, TaskContext } from '../../src/dag/types.ts';
import { listWorkers, runWorker, startQueuedRuns } from '../../src/executor/index.ts';
import { setPool } from '../../src/executor/pools.ts';
import { triggerRun } from '../../src/scheduler/trigger.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Records how many attempts of each key run at once, in the database: `peak` is the most seen.
 * The row lock on the counter serialises the updates, whatever process they come from.
 */
async function enter(ctx: TaskContext, key: string): Promise<void> {
  await ctx.store.query(
    `INSERT INTO concurrency (key, current, peak, entries) VALUES ($1, 1, 1, 1)
     ON CONFLICT (key) DO UPDATE SET current = concurrency.current + 1,
       peak = greatest(concurrency.peak, concurrency.current + 1), entries = concurrency.entries + 1`,
    [key],
  );
}
async function leave(ctx: TaskContext, key: string): Promise<void> {
  await ctx.store.query('UPDATE concurrency SET current = current - 1 WHERE key = $1', [key]);
}
async function counters(store: Store): Promise<Record<string, { peak: number; entries: number }>> {
  const { rows } = await store.query<{ key: string; peak: number; entries: number }>(
    'SELECT key, peak, entries FROM concurrency ORDER BY key',
  );
  return Object.fromEntries(rows.map((row) => [row.key, { peak: row.peak, entries: row.entries }]));
}

describe.each(storeKinds())('workers on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (skip) return;
    env = await openTestEnvironment(kind);
    await env.store.query(
      'CREATE TABLE concurrency (key text PRIMARY KEY, current int NOT NULL, peak int NOT NULL, entries int NOT NULL)',
    );
  });
  afterAll(async () => {
    await env?.cleanup();
  });
  const work = (dags: Dag[], extra: Partial<Parameters<typeof runWorker>[0]> = {}) =>
    runWorker({ store: env.store, config: env.config, dags, maxPollMs: 50, untilIdle: true, ...extra });

  it.skipIf(skip)('starts queued runs, executes their tasks in order, and closes them', async () => {
    const order: string[] = [];
    const dag = defineDag({
      id: 'w-basic',
      description: '',
      tasks: [
        {
          id: 'extract',
          run: (ctx) => {
            order.push(`extract ${ctx.ds}`);
            return { rows: 3 };
          },
        },
        {
          id: 'load',
          deps: ['extract'],
          run: (ctx) => {
            order.push(`load ${ctx.ds}`);
            return { got: ctx.upstream.extract ?? null };
          },
        },
      ],
    });
    await env.store.query(
      `INSERT INTO workers (id, hostname, pid, concurrency, heartbeat_at, stopped_at)
       VALUES ('gone-long-ago', 'h', 1, 1, now() - interval '9 days', now() - interval '8 days')`,
    );
    const first = await triggerRun(env.store, dag, { date: '2001-03-01' });
    const second = await triggerRun(env.store, dag, { date: '2001-03-02' });
    const report = await work([dag]);

    expect(report.runsStarted.sort()).toEqual([first.run.id, second.run.id].sort());
    expect(report.runsFinished.map((run) => run.state)).toEqual(['success', 'success']);
    expect(report.executed).toEqual({ 'w-basic.extract': 2, 'w-basic.load': 2 });
    expect(order.indexOf('load 2001-03-01')).toBeGreaterThan(order.indexOf('extract 2001-03-01'));
    const runs = await listRuns(env.store, { dagId: 'w-basic' });
    expect(runs.map((run) => run.state)).toEqual(['success', 'success']);
    const tasks = await listTaskInstances(env.store, first.run.id);
    expect(tasks.find((task) => task.taskId === 'load')?.outputs).toEqual({ got: { rows: 3 } });
    // It registered itself and marked itself stopped; a worker gone for over a week was removed.
    const workers = await listWorkers(env.store, { all: true });
    expect(workers.find((worker) => worker.id === 'gone-long-ago')).toBeUndefined();
    const me = workers.find((worker) => worker.id === report.workerId);
    expect(me?.stoppedAt).toBeInstanceOf(Date);
    expect(me?.tasksDone).toBe(4);
    expect(me?.live).toBe(false);
  });

  it.skipIf(skip)('keeps to maxActiveRuns across the runs it starts', async () => {
    const dag = defineDag({
      id: 'w-capped',
      description: '',
      maxActiveRuns: 1,
      tasks: [
        {
          id: 'only',
          run: async (ctx) => {
            await enter(ctx, 'w-capped-runs');
            await sleep(20);
            await leave(ctx, 'w-capped-runs');
          },
        },
      ],
    });
    for (const date of ['2001-04-01', '2001-04-02', '2001-04-03']) await triggerRun(env.store, dag, { date });
    const report = await work([dag], { concurrency: 4 });
    expect(report.runsFinished).toHaveLength(3);
    expect((await counters(env.store))['w-capped-runs']).toEqual({ peak: 1, entries: 3 });
  });

  it.skipIf(skip)('retries a failing task and fails the run when retries run out', async () => {
    let calls = 0;
    const dag = defineDag({
      id: 'w-fails',
      description: '',
      tasks: [
        {
          id: 'flaky',
          retries: 1,
          retryDelayMs: 10,
          run: () => {
            calls++;
            throw new Error(`boom ${calls}`);
          },
        },
        { id: 'after', deps: ['flaky'], run: () => ({}) },
      ],
    });
    const { run } = await triggerRun(env.store, dag, { date: '2001-05-01' });
    const report = await work([dag]);
    expect(calls).toBe(2);
    expect(report.runsFinished).toEqual([{ runId: run.id, dagId: 'w-fails', state: 'failed' }]);
    const tasks = await listTaskInstances(env.store, run.id);
    expect(Object.fromEntries(tasks.map((task) => [task.taskId, task.state]))).toEqual({
      flaky: 'failed',
      after: 'upstream_failed',
    });
    expect(tasks.find((task) => task.taskId === 'flaky')?.error).toContain('boom 2');
  });

  it.skipIf(skip)('takes only the pools it serves; another worker takes the rest', async () => {
    const dag = defineDag({
      id: 'w-pools',
      description: '',
      tasks: [
        { id: 'cpu', run: () => ({}) },
        { id: 'gpu', pool: 'gpu-served', run: () => ({}) },
      ],
    });
    const { run } = await triggerRun(env.store, dag, { date: '2001-06-01' });
    const gpuOnly = await runWorker({
      store: env.store,
      config: env.config,
      dags: [dag],
      pools: ['gpu-served'],
      maxPollMs: 50,
      signal: AbortSignal.timeout(1_500),
    });
    expect(gpuOnly.executed).toEqual({ 'w-pools.gpu': 1 });
    const states = async () =>
      Object.fromEntries(
        (await listTaskInstances(env.store, run.id)).map((task) => [task.taskId, task.state]),
      );
    expect(await states()).toEqual({ cpu: 'queued', gpu: 'success' });
    const rest = await work([dag], { pools: ['default'] });
    expect(rest.executed).toEqual({ 'w-pools.cpu': 1 });
    expect(rest.runsFinished).toEqual([{ runId: run.id, dagId: 'w-pools', state: 'success' }]);
  });

  it.skipIf(skip)("a pool's slots hold across workers and runDag at once", async () => {
    await setPool(env.store, { name: 'one-gpu', slots: 1 });
    const tasks = Array.from({ length: 6 }, (_, i) => ({
      id: `t${i}`,
      pool: 'one-gpu',
      run: async (ctx: TaskContext) => {
        await enter(ctx, 'one-gpu');
        await sleep(25);
        await leave(ctx, 'one-gpu');
      },
    }));
    const dag = defineDag({ id: 'w-gpu', description: '', maxActiveRuns: 3, tasks });
    await triggerRun(env.store, dag, { date: '2001-07-01' });
    await triggerRun(env.store, dag, { date: '2001-07-02' });
    // Separate connection pools where the store allows it, as separate processes would have.
    const other = kind === 'postgres' ? await openStore(env.config) : env.store;
    try {
      const [a, b, direct] = await Promise.all([
        work([dag], { concurrency: 4 }),
        runWorker({
          store: other,
          config: env.config,
          dags: [dag],
          maxPollMs: 50,
          untilIdle: true,
          concurrency: 4,
        }),
        runDag({
          store: env.store,
          config: env.config,
          dag,
          logicalDate: new Date('2001-07-03T00:00:00Z'),
          maxPollMs: 50,
          concurrency: 4,
        }),
      ]);
      expect(direct.state).toBe('success');
      const attempts =
        Object.values(a.executed).reduce((x, y) => x + y, 0) +
        Object.values(b.executed).reduce((x, y) => x + y, 0) +
        Object.values(direct.executed).reduce((x, y) => x + y, 0);
      expect(attempts).toBe(18);
    } finally {
      if (other !== env.store) await other.close();
    }
    expect((await counters(env.store))['one-gpu']).toEqual({ peak: 1, entries: 18 });
    const runs = await listRuns(env.store, { dagId: 'w-gpu' });
    expect(runs.map((run) => run.state)).toEqual(['success', 'success', 'success']);
  });

  it.skipIf(skip)('concurrent claims never take more of a capped pool than its slots', async () => {
    await setPool(env.store, { name: 'race', slots: 2 });
    const dag = defineDag({
      id: 'w-race',
      description: '',
      tasks: Array.from({ length: 30 }, (_, i) => ({ id: `t${i}`, pool: 'race', run: () => ({}) })),
    });
    const { run } = await triggerRun(env.store, dag, { date: '2001-09-01' });
    await startQueuedRuns(env.store, [dag]);
    const stores =
      kind === 'postgres' ? await Promise.all([openStore(env.config), openStore(env.config)]) : [];
    try {
      const claimers = [env.store, ...stores];
      // 24 claims at once, each asking for 3, from three connection pools.
      const claims = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          claimTaskInstances(claimers[i % claimers.length] as Store, {
            scope: { runId: run.id },
            owner: `claimer-${i}`,
            limit: 3,
            leaseMs: 60_000,
            onlyPool: 'race',
          }),
        ),
      );
      expect(claims.flat()).toHaveLength(2);
      const { rows } = await env.store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM task_instances WHERE run_id = $1 AND state = 'running'`,
        [run.id],
      );
      expect(rows[0]?.n).toBe(2);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it.skipIf(skip)('finishes a run that runDag started elsewhere, and runDag sees it finished', async () => {
    const dag = defineDag({
      id: 'w-shared',
      description: '',
      tasks: Array.from({ length: 20 }, (_, i) => ({
        id: `t${i}`,
        run: async (ctx: TaskContext) => {
          await enter(ctx, `w-shared-${ctx.taskId}`);
          await sleep(5);
          await leave(ctx, `w-shared-${ctx.taskId}`);
        },
      })),
    });
    const controller = new AbortController();
    const worker = runWorker({
      store: env.store,
      config: env.config,
      dags: [dag],
      maxPollMs: 20,
      signal: controller.signal,
      concurrency: 4,
    });
    const direct = await runDag({
      store: env.store,
      config: env.config,
      dag,
      logicalDate: new Date('2001-08-01T00:00:00Z'),
      maxPollMs: 20,
      concurrency: 4,
    });
    controller.abort();
    const report = await worker;
    expect(direct.state).toBe('success');
    const byWorker = Object.values(report.executed).reduce((x, y) => x + y, 0);
    const byRunDag = Object.values(direct.executed).reduce((x, y) => x + y, 0);
    expect(byWorker + byRunDag).toBe(20);
    const seen = await counters(env.store);
    for (let i = 0; i < 20; i++) expect(seen[`w-shared-t${i}`]).toEqual({ peak: 1, entries: 1 });
    const attempts = await listTaskAttempts(env.store, direct.run.id);
    expect(attempts.every((attempt) => attempt.state === 'success' && attempt.attempt === 1)).toBe(true);
  });
});

// Workers as real processes on real Postgres: `nightshift worker` started by the CLI, killed with
// SIGKILL, stopped with SIGTERM, next to `nightshift scheduler` and `nightshift trigger`.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { listTaskAttempts, listTaskInstances } from '../../src/dag/index.ts';
import { listWorkers } from '../../src/executor/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { repoRoot, runCli, type Spawned, spawnCli } from '../helpers/child.ts';
import { postgresUrl } from '../helpers/services.ts';
import { createTestDatabase, tempDagsDir, tempDir } from '../helpers/stores.ts';

const dagImport = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));

const DAGS: Record<string, string> = {
  // One task: the first attempt records itself and blocks (the test kills its worker); the
  // next one commits its side effect fenced by the lease.
  'kill-me': `import { defineDag } from ${dagImport};
export default defineDag({
  id: 'kill-me',
  description: 'blocks on its first attempt',
  tasks: [{
    id: 'slow',
    run: async (ctx) => {
      await ctx.store.query('INSERT INTO ledger (task, attempt, pid) VALUES ($1, $2, $3)', [ctx.taskId, ctx.attempt, process.pid]);
      if (ctx.attempt === 1) await new Promise(() => {});
      await ctx.transaction((tx) => tx.query('INSERT INTO effects (task) VALUES ($1)', [ctx.taskId]));
      return { pid: process.pid };
    },
  }],
});
`,
  // 200 independent tasks: each counts itself in and out of a per-task counter.
  many: `import { defineDag } from ${dagImport};
const count = (ctx, delta) => ctx.store.query(
  \`INSERT INTO concurrency (key, current, peak, entries) VALUES ($1, 1, 1, 1)
   ON CONFLICT (key) DO UPDATE SET current = concurrency.current + $2,
     peak = greatest(concurrency.peak, concurrency.current + $2),
     entries = concurrency.entries + CASE WHEN $2 > 0 THEN 1 ELSE 0 END\`, [ctx.taskId, delta]);
export default defineDag({
  id: 'many',
  description: '200 tasks, each counted in and out',
  tasks: Array.from({ length: 200 }, (_, i) => ({
    id: 't' + String(i).padStart(3, '0'),
    run: async (ctx) => {
      await count(ctx, 1);
      await ctx.store.query('INSERT INTO ledger (task, attempt, pid) VALUES ($1, $2, $3)', [ctx.taskId, ctx.attempt, process.pid]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await count(ctx, -1);
    },
  })),
});
`,
  // Waits for its abort signal: the worker is stopped with SIGTERM meanwhile.
  'hand-back': `import { defineDag } from ${dagImport};
export default defineDag({
  id: 'hand-back',
  description: 'waits until told to stop, then succeeds on the next attempt',
  tasks: [{
    id: 'wait',
    run: async (ctx) => {
      await ctx.store.query('INSERT INTO ledger (task, attempt, pid) VALUES ($1, $2, $3)', [ctx.taskId, ctx.attempt, process.pid]);
      if (ctx.attempt === 1) await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      return { done: true };
    },
  }],
});
`,
  // Four shards, run only by workers (none by the planning task itself); shard b's first
  // attempt blocks (the test kills its worker).
  sharded: `import { defineDag } from ${dagImport};
export default defineDag({
  id: 'sharded',
  description: 'shards taken by workers',
  tasks: [{
    id: 'split',
    run: async (ctx) => ({
      results: await ctx.shards(['a', 'b', 'c', 'd'].map((name) => ({ name, spec: name.toUpperCase() })), { localConcurrency: 0, pollMs: 50 }),
    }),
    shard: async (spec, ctx) => {
      await ctx.store.query('INSERT INTO ledger (task, attempt, pid) VALUES ($1, $2, $3)', ['shard-' + ctx.shard, ctx.attempt, process.pid]);
      if (ctx.shard === 'b' && ctx.attempt === 1) await new Promise(() => {});
      await ctx.store.query('INSERT INTO effects (task) VALUES ($1)', ['shard-' + ctx.shard]);
      return spec;
    },
  }],
});
`,
  nightly: `import { defineDag } from ${dagImport};
export default defineDag({
  id: 'nightly',
  description: 'scheduled daily',
  schedule: '@daily',
  startDate: '2001-01-01',
  catchup: true,
  maxActiveRuns: 4,
  tasks: [
    { id: 'a', run: (ctx) => ctx.store.query('INSERT INTO ledger (task, attempt, pid) VALUES ($1, $2, $3)', [ctx.ds, ctx.attempt, process.pid]).then(() => ({})) },
    { id: 'b', deps: ['a'], run: () => ({}) },
  ],
});
`,
};

async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(postgresUrl() === null)('workers as processes on Postgres', () => {
  let store: Store;
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  const spawned: Spawned[] = [];
  const dagsDir = tempDagsDir();
  const home = tempDir();

  beforeAll(async () => {
    for (const [id, source] of Object.entries(DAGS)) fs.writeFileSync(path.join(dagsDir, `${id}.ts`), source);
    const database = await createTestDatabase();
    drop = database.drop;
    env = {
      DATABASE_URL: database.url,
      NIGHTSHIFT_HOME: home,
      NIGHTSHIFT_DAGS: dagsDir,
      NIGHTSHIFT_LEASE_MS: '1500',
    };
    // Migrates the database, then the tables the DAGs write their side effects to.
    const migrated = await runCli(['dags', 'list'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    store = await openStore(loadConfig({ home, databaseUrl: database.url }));
    await store.query(
      'CREATE TABLE ledger (task text NOT NULL, attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())',
    );
    await store.query('CREATE TABLE effects (task text NOT NULL)');
    await store.query(
      'CREATE TABLE concurrency (key text PRIMARY KEY, current int NOT NULL, peak int NOT NULL, entries int NOT NULL)',
    );
  });
  afterEach(async () => {
    for (const child of spawned.splice(0)) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      await child.exited;
    }
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const startWorkers = async (count: number, extraEnv: Record<string, string> = {}): Promise<Spawned[]> => {
    const workers = Array.from({ length: count }, () =>
      spawnCli(['worker', '--concurrency', '8'], { ...env, ...extraEnv }),
    );
    spawned.push(...workers);
    await Promise.all(workers.map((worker) => worker.waitFor('worker executing')));
    // Registered and heartbeating (workers killed by earlier tests may still look live a while).
    const pids = workers.map((worker) => worker.child.pid);
    await waitUntil('the workers to register', async () => {
      const live = new Set((await listWorkers(store)).map((row) => row.pid));
      return pids.every((pid) => live.has(pid as number)) ? true : undefined;
    });
    return workers;
  };
  const runState = async (dagId: string, date: string) => {
    const { rows } = await store.query<{ id: number; state: string }>(
      `SELECT id, state FROM dag_runs WHERE dag_id = $1 AND logical_date = $2::date::timestamptz`,
      [dagId, date],
    );
    return rows[0];
  };
  const waitForRun = (dagId: string, date: string, timeoutMs = 60_000) =>
    waitUntil(
      `run of ${dagId} for ${date} to finish`,
      async () => {
        const run = await runState(dagId, date);
        return run && (run.state === 'success' || run.state === 'failed') ? run : undefined;
      },
      timeoutMs,
    );
  const ledger = async (task?: string) =>
    (
      await store.query<{ task: string; attempt: number; pid: number }>(
        'SELECT task, attempt, pid FROM ledger WHERE $1::text IS NULL OR task = $1 ORDER BY at',
        [task ?? null],
      )
    ).rows;

  it('kill -9 a worker mid-task: another retries it once its lease expires, and it completes once', async () => {
    const workers = await startWorkers(2);
    const triggered = await runCli(['trigger', 'kill-me', '--date', '2001-02-01'], env);
    expect(triggered.code, triggered.stderr).toBe(0);
    const [first] = await waitUntil('the first attempt to start', async () => {
      const rows = await ledger('slow');
      return rows.length > 0 ? rows : undefined;
    });
    const victim = workers.find((worker) => worker.child.pid === first?.pid);
    const survivor = workers.find((worker) => worker !== victim);
    expect(victim, 'the attempt ran in one of the two workers').toBeDefined();
    victim?.child.kill('SIGKILL');
    await victim?.exited;

    const run = await waitForRun('kill-me', '2001-02-01');
    expect(run.state).toBe('success');
    expect((await store.query('SELECT * FROM effects')).rows).toHaveLength(1);
    expect((await ledger('slow')).map((row) => [row.attempt, row.pid])).toEqual([
      [1, victim?.child.pid],
      [2, survivor?.child.pid],
    ]);
    const attempts = await listTaskAttempts(store, run.id);
    expect(attempts.map((attempt) => attempt.state)).toEqual(['lease_expired', 'success']);
    expect(attempts[1]?.owner).toContain(`:${survivor?.child.pid}:`);
    const [instance] = await listTaskInstances(store, run.id);
    expect(instance).toMatchObject({ state: 'success', tryNumber: 2, leaseExpirations: 1, failures: 0 });
  });

  it('kill -9 a worker mid-shard: the shard is retried elsewhere and every shard counts once', async () => {
    const workers = await startWorkers(2);
    const triggered = await runCli(['trigger', 'sharded', '--date', '2001-02-01'], env);
    expect(triggered.code, triggered.stderr).toBe(0);
    const [first] = await waitUntil('shard b to start', async () => {
      const rows = await ledger('shard-b');
      return rows.length > 0 ? rows : undefined;
    });
    const victim = workers.find((worker) => worker.child.pid === first?.pid);
    const survivor = workers.find((worker) => worker !== victim);
    expect(victim, 'shard b ran in one of the two workers').toBeDefined();
    victim?.child.kill('SIGKILL');
    await victim?.exited;

    const run = await waitForRun('sharded', '2001-02-01');
    expect(run.state).toBe('success');
    const [task] = await listTaskInstances(store, run.id);
    expect(task?.outputs).toEqual({ results: ['A', 'B', 'C', 'D'] });
    // Shard b was retried by the survivor after its lease expired. A shard body runs at least
    // once (the victim may have finished others without committing them, so they ran again);
    // each shard's result was committed once, by its last holder.
    const b = await ledger('shard-b');
    expect(b.map((row) => [row.attempt, row.pid])).toEqual([
      [1, victim?.child.pid],
      [2, survivor?.child.pid],
    ]);
    const shards = await store.query<{ shard: string; state: string; result: string }>(
      'SELECT shard, state, result FROM task_shards WHERE run_id = $1 ORDER BY position',
      [run.id],
    );
    expect(shards.rows.map((row) => [row.shard, row.state, row.result])).toEqual([
      ['a', 'success', 'A'],
      ['b', 'success', 'B'],
      ['c', 'success', 'C'],
      ['d', 'success', 'D'],
    ]);
    const effects = await store.query<{ task: string }>(
      `SELECT DISTINCT task FROM effects WHERE task LIKE 'shard-%' ORDER BY task`,
    );
    expect(effects.rows.map((row) => row.task)).toEqual(['shard-a', 'shard-b', 'shard-c', 'shard-d']);
  });

  it('two workers never run the same task instance at once, and every task runs once', async () => {
    const workers = await startWorkers(2);
    const triggered = await runCli(['trigger', 'many', '--date', '2001-02-01'], env);
    expect(triggered.code, triggered.stderr).toBe(0);
    const run = await waitForRun('many', '2001-02-01');
    expect(run.state).toBe('success');
    const { rows } = await store.query<{ key: string; peak: number; entries: number; current: number }>(
      'SELECT key, peak, entries, current FROM concurrency ORDER BY key',
    );
    expect(rows).toHaveLength(200);
    expect(rows.filter((row) => row.peak !== 1 || row.entries !== 1 || row.current !== 0)).toEqual([]);
    const executions = await store.query<{ pid: number; n: number }>(
      `SELECT pid, count(*)::int AS n FROM ledger WHERE task LIKE 't%' GROUP BY pid`,
    );
    // Both workers took part.
    expect(executions.rows.map((row) => row.pid).sort()).toEqual(
      workers.map((worker) => worker.child.pid).sort(),
    );
    expect(executions.rows.reduce((sum, row) => sum + row.n, 0)).toBe(200);
  });

  it('SIGTERM hands the running task back; another worker completes it; the worker stops cleanly', async () => {
    const [worker] = await startWorkers(1);
    const triggered = await runCli(['trigger', 'hand-back', '--date', '2001-02-01'], env);
    expect(triggered.code, triggered.stderr).toBe(0);
    await waitUntil('the first attempt to start', async () =>
      (await ledger('wait')).length > 0 ? true : undefined,
    );
    worker?.child.kill('SIGTERM');
    const exited = await worker?.exited;
    expect(exited?.code, worker?.stderr()).toBe(0);
    const { id } = (await runState('hand-back', '2001-02-01')) ?? { id: 0 };
    const [handedBack] = await listTaskInstances(store, id);
    expect(handedBack?.state).toBe('queued');
    expect(
      (await listWorkers(store, { all: true })).find((row) => row.pid === worker?.child.pid)?.stoppedAt,
    ).toBeInstanceOf(Date);

    await startWorkers(1);
    const run = await waitForRun('hand-back', '2001-02-01');
    expect(run.state).toBe('success');
    expect((await listTaskAttempts(store, id)).map((attempt) => attempt.state)).toEqual([
      'cancelled',
      'success',
    ]);
  });

  it('with a worker live, the scheduler only schedules and the worker executes the runs', async () => {
    const [worker] = await startWorkers(1);
    const scheduler = await runCli(['scheduler', '--once'], {
      ...env,
      NIGHTSHIFT_NOW: '2001-01-04T01:00:00Z',
    });
    expect(scheduler.code, scheduler.stderr).toBe(0);
    expect(scheduler.stdout.match(/scheduled run \d+ of nightly/g)).toHaveLength(3);
    expect(scheduler.stdout).not.toMatch(/: success/);
    for (const date of ['2001-01-01', '2001-01-02', '2001-01-03'])
      expect((await waitForRun('nightly', date)).state).toBe('success');
    const owners = await store.query<{ owner: string }>(
      `SELECT DISTINCT a.owner FROM task_attempts a JOIN dag_runs r ON r.id = a.run_id WHERE r.dag_id = 'nightly'`,
    );
    expect(owners.rows.map((row) => row.owner.split(':')[1])).toEqual([String(worker?.child.pid)]);
    expect(
      (await ledger())
        .filter((row) => row.task.startsWith('2001-01-0'))
        .map((row) => row.task)
        .sort(),
    ).toEqual(['2001-01-01', '2001-01-02', '2001-01-03']);
  });

  it('pools and workers from the CLI', async () => {
    const set = await runCli(['pools', 'set', 'gpu', '2', '--description', 'one per card'], env);
    expect(set.code, set.stderr).toBe(0);
    const listed = await runCli(['pools', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toEqual([
      { name: 'gpu', slots: 2, description: 'one per card', running: 0, queued: 0 },
    ]);
    const bad = await runCli(['pools', 'set', 'gpu', 'two'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid slots 'two'");
    const badPools = await runCli(['worker', '--pools', 'a b'], env);
    expect(badPools.code).toBe(2);
    expect(badPools.stderr).toContain("invalid pool name 'a b'");
    const [worker] = await startWorkers(1);
    const live = await runCli(['workers', '--json'], env);
    const rows = JSON.parse(live.stdout) as { pid: number; live: boolean }[];
    expect(rows.find((row) => row.pid === worker?.child.pid)?.live).toBe(true);
    expect((await runCli(['pools', 'delete', 'gpu'], env)).code).toBe(0);
    expect((await runCli(['pools', 'delete', 'gpu'], env)).code).toBe(2);
  });
});

/**
 * Distributed execution on Postgres: two `nightshift worker` processes (started with the CLI, as
 * a deployment would) and this process triggering runs.
 *
 * - Trigger-to-first-task latency: a one-task DAG is triggered (the run is created, queued,
 *   exactly as `nightshift trigger` or `POST /api/dags/:id/runs` does), one run at a time; the
 *   latency is from the run's creation to its task's claim, both on the database clock.
 * - Throughput: 1,000 no-op tasks (one root, 999 fanned out from it) executed by the two workers,
 *   from the run's creation to its end, against the same DAG run by `runDag` in one process (what
 *   `nightshift run` does) in the same session: the baseline.
 *
 *   npx tsx bench/workers.ts [--pings 100] [--tasks 1000] [--repeat 3] [--concurrency 16] [--workers 2]
 *
 * Postgres: BENCH_DATABASE_URL, else a scratch database created on postgres://postgres@127.0.0.1:5432.
 * It prints figures; it never asserts on time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { loadDags, parseLogicalDate, runDag } from '../src/dag/index.ts';
import type { Dag } from '../src/dag/types.ts';
import { listWorkers } from '../src/executor/index.ts';
import { triggerRun } from '../src/scheduler/trigger.ts';
import { openStore, type Store } from '../src/store/index.ts';

const { values } = parseArgs({
  options: {
    pings: { type: 'string', default: '100' },
    tasks: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    workers: { type: 'string', default: '2' },
  },
});
const pings = Number(values.pings);
const taskCount = Number(values.tasks);
const repeat = Number(values.repeat);
const concurrency = Number(values.concurrency);
const workerCount = Number(values.workers);
process.env.LOG_LEVEL ??= 'silent';

const repoRoot = path.resolve(import.meta.dirname, '..');
const dagImport = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));

function writeDags(dir: string): void {
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  fs.writeFileSync(
    path.join(dir, 'bench-ping.ts'),
    `import { defineDag } from ${dagImport};
export default defineDag({ id: 'bench-ping', description: 'one no-op task', maxActiveRuns: 1000,
  tasks: [{ id: 'ping', run: () => undefined }] });
`,
  );
  fs.writeFileSync(
    path.join(dir, 'bench-fanout.ts'),
    `import { defineDag } from ${dagImport};
const tasks = [{ id: 'root', run: () => undefined }];
for (let i = 1; i < ${taskCount}; i++) tasks.push({ id: 't' + i, deps: ['root'], run: () => undefined });
export default defineDag({ id: 'bench-fanout', description: '${taskCount} no-op tasks', maxActiveRuns: 10, tasks });
`,
  );
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
const median = (list: readonly number[]) =>
  quantile(
    [...list].sort((a, b) => a - b),
    0.5,
  );
const fmt = (value: number, digits = 1) => value.toFixed(digits);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const dayAfter = (start: string, offset: number) =>
  new Date(Date.parse(`${start}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);

async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, drop: async () => {} };
  const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `nightshift_bench_workers_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => {
      const dropper = new pg.Client({ connectionString: admin });
      await dropper.connect();
      await dropper.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

async function waitForRun(store: Store, runId: number, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await store.query<{ state: string }>('SELECT state FROM dag_runs WHERE id = $1', [
      runId,
    ]);
    const state = rows[0]?.state;
    if (state === 'success') return;
    if (state === 'failed') throw new Error(`bench run ${runId} failed`);
    if (Date.now() - started > timeoutMs)
      throw new Error(`bench run ${runId} did not finish in ${timeoutMs} ms`);
    await sleep(2);
  }
}

/** Trigger-to-first-task latencies in ms, one run at a time, on the database clock. */
async function measureLatency(store: Store, dag: Dag): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < pings; i++) {
    const { run } = await triggerRun(store, dag, { date: dayAfter('2001-01-01', i) });
    await waitForRun(store, run.id);
    const { rows } = await store.query<{ ms: number }>(
      `SELECT extract(epoch FROM (min(a.started_at) - r.created_at)) * 1000 AS ms
       FROM dag_runs r JOIN task_attempts a ON a.run_id = r.id WHERE r.id = $1 GROUP BY r.created_at`,
      [run.id],
    );
    latencies.push(Number(rows[0]?.ms));
  }
  return latencies;
}

/** Tasks/s of one run executed by the workers: creation to end, on the database clock. */
async function measureWorkers(store: Store, dag: Dag, date: string): Promise<number> {
  const { run } = await triggerRun(store, dag, { date });
  await waitForRun(store, run.id);
  const { rows } = await store.query<{ ms: number }>(
    'SELECT extract(epoch FROM (ended_at - created_at)) * 1000 AS ms FROM dag_runs WHERE id = $1',
    [run.id],
  );
  return (dag.tasks.length / Number(rows[0]?.ms)) * 1000;
}

/** Tasks/s of the same DAG run in this process with runDag (workers stopped). */
async function measureRunDag(store: Store, dag: Dag, date: string): Promise<number> {
  const result = await runDag({
    store,
    config: loadConfig(),
    dag,
    logicalDate: parseLogicalDate(date, 'UTC'),
    concurrency,
  });
  if (result.state !== 'success') throw new Error(`baseline run ended ${result.state}`);
  const { rows } = await store.query<{ ms: number }>(
    'SELECT extract(epoch FROM (ended_at - created_at)) * 1000 AS ms FROM dag_runs WHERE id = $1',
    [result.run.id],
  );
  return (dag.tasks.length / Number(rows[0]?.ms)) * 1000;
}

const dagsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-dags-'));
writeDags(dagsDir);
const { dags, errors } = await loadDags(dagsDir);
if (errors.length > 0) throw errors[0];
const ping = dags.find((dag) => dag.id === 'bench-ping') as Dag;
const fanout = dags.find((dag) => dag.id === 'bench-fanout') as Dag;
const database = await scratchDatabase();
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-home-'));
const store = await openStore(loadConfig({ home, databaseUrl: database.url }));
const children: ChildProcess[] = [];

try {
  console.log(
    `workers on Postgres: ${workerCount} worker processes x concurrency ${concurrency}; ${pings} triggers; ${taskCount} no-op tasks, median of ${repeat}`,
  );
  console.log(
    `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  // Baseline first, with no worker running: the same DAG in one process.
  const baseline: number[] = [];
  for (let i = 0; i < repeat; i++)
    baseline.push(await measureRunDag(store, fanout, dayAfter('2002-01-01', i)));

  const env = {
    ...process.env,
    DATABASE_URL: database.url,
    NIGHTSHIFT_HOME: home,
    NIGHTSHIFT_DAGS: dagsDir,
    LOG_LEVEL: 'warn',
  };
  for (let i = 0; i < workerCount; i++) {
    children.push(
      spawn(
        process.execPath,
        [path.join(repoRoot, 'bin/nightshift.js'), 'worker', '--concurrency', String(concurrency)],
        {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      ),
    );
  }
  const stderr = children.map(() => [] as string[]);
  for (const [i, child] of children.entries()) {
    child.stderr?.on('data', (chunk) => stderr[i]?.push(String(chunk)));
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal === null)
        process.stderr.write(`worker ${i} exited ${code}: ${stderr[i]?.join('')}\n`);
    });
  }
  const started = Date.now();
  while ((await listWorkers(store)).length < workerCount) {
    if (Date.now() - started > 60_000) throw new Error('the workers did not register within 60 s');
    await sleep(50);
  }
  await sleep(500);

  const latencies = (await measureLatency(store, ping)).sort((a, b) => a - b);
  const throughput: number[] = [];
  for (let i = 0; i < repeat; i++)
    throughput.push(await measureWorkers(store, fanout, dayAfter('2003-01-01', i)));
  const perWorker = await store.query<{ tasks: number }>(
    `SELECT count(*)::int AS tasks FROM task_attempts a JOIN dag_runs r ON r.id = a.run_id
     WHERE r.dag_id = 'bench-fanout' AND r.logical_date >= '2003-01-01'
     GROUP BY a.owner ORDER BY a.owner`,
  );

  console.log(
    `trigger -> first task: p50 ${fmt(quantile(latencies, 0.5), 1)} ms, p99 ${fmt(quantile(latencies, 0.99), 1)} ms, max ${fmt(latencies[latencies.length - 1] ?? Number.NaN, 1)} ms (${latencies.length} runs)`,
  );
  const workersRate = median(throughput);
  const baselineRate = median(baseline);
  console.log(
    `${taskCount} tasks with ${workerCount} workers: ${fmt(workersRate, 0)} tasks/s (runs: ${throughput.map((t) => fmt(t, 0)).join(', ')}); attempts per worker over the ${repeat} runs ${perWorker.rows.map((row) => row.tasks).join(' / ')}`,
  );
  console.log(
    `baseline, runDag in one process (concurrency ${concurrency}): ${fmt(baselineRate, 0)} tasks/s (runs: ${baseline.map((t) => fmt(t, 0)).join(', ')}); ratio workers/baseline ${fmt(workersRate / baselineRate, 2)}`,
  );
  console.log(`peak RSS of this process ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MiB`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  await store.close();
  await database.drop();
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(dagsDir, { recursive: true, force: true });
}

/**
 * DAG engine overhead: 1,000 no-op tasks as a chain and as a wide fan-out, on the embedded
 * store (PGlite) and on Postgres. Prints tasks/s and per-task overhead (median, p99), the median
 * of several repetitions, and a baseline measured in the same run: the store's round trip
 * (`SELECT 1`), so that overhead can be read as round trips per task on a noisy machine.
 *
 *   npx tsx bench/dag-throughput.ts [--tasks 1000] [--repeat 3] [--concurrency 16] [--stores embedded,postgres]
 *
 * Postgres: BENCH_DATABASE_URL, else a scratch database created on postgres://postgres@127.0.0.1:5432.
 * It prints figures; it never asserts on time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { defineDag, parseLogicalDate, runDag } from '../src/dag/index.ts';
import type { Dag, TaskDefinition } from '../src/dag/types.ts';
import { openStore, type Store } from '../src/store/index.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    stores: { type: 'string', default: 'embedded,postgres' },
  },
});
const taskCount = Number(values.tasks);
const repeat = Number(values.repeat);
const concurrency = Number(values.concurrency);
process.env.LOG_LEVEL ??= 'silent';

function chainDag(n: number): Dag {
  const tasks: TaskDefinition[] = Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    deps: i === 0 ? [] : [`t${i - 1}`],
    run: () => undefined,
  }));
  return defineDag({ id: 'bench-chain', description: '', tasks });
}

function fanOutDag(n: number): Dag {
  const tasks: TaskDefinition[] = [{ id: 'root', run: () => undefined }];
  for (let i = 1; i < n; i++) tasks.push({ id: `t${i}`, deps: ['root'], run: () => undefined });
  return defineDag({ id: 'bench-fanout', description: '', tasks });
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
const median = (values: readonly number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

async function roundTripMs(store: Store): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 500; i++) {
    const started = performance.now();
    await store.query('SELECT 1');
    samples.push(performance.now() - started);
  }
  return median(samples);
}

interface Sample {
  tasksPerSecond: number;
  /** Claim to commit of a no-op attempt: what the engine adds to every task. */
  overheadMedianMs: number;
  overheadP99Ms: number;
  /** Ready (queued) to committed: adds the wait for a free slot, which dominates a fan-out. */
  readyToDoneMedianMs: number;
}

/** Per-task overhead from the task instances' own timestamps (database clock). */
async function measure(store: Store, dag: Dag, day: string): Promise<Sample> {
  const config = loadConfig();
  const started = performance.now();
  const result = await runDag({
    store,
    config,
    dag,
    logicalDate: parseLogicalDate(day, 'UTC'),
    concurrency,
    leaseMs: 30_000,
  });
  const wallMs = performance.now() - started;
  if (result.state !== 'success') throw new Error(`bench run ${dag.id} ${day} ended ${result.state}`);
  const { rows } = await store.query<{ claimed: number; ready: number }>(
    `SELECT extract(epoch FROM (ended_at - started_at)) * 1000 AS claimed,
            extract(epoch FROM (ended_at - queued_at)) * 1000 AS ready
     FROM task_instances WHERE run_id = $1`,
    [result.run.id],
  );
  const overheads = rows.map((row) => Number(row.claimed)).sort((a, b) => a - b);
  const readyToDone = rows.map((row) => Number(row.ready)).sort((a, b) => a - b);
  return {
    tasksPerSecond: (dag.tasks.length / wallMs) * 1000,
    overheadMedianMs: quantile(overheads, 0.5),
    overheadP99Ms: quantile(overheads, 0.99),
    readyToDoneMedianMs: quantile(readyToDone, 0.5),
  };
}

async function openBenchStore(kind: string): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  if (kind === 'embedded') {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));
    const store = await openStore({ databaseUrl: undefined, home }, { serve: false });
    return {
      store,
      cleanup: async () => {
        await store.close();
        fs.rmSync(home, { recursive: true, force: true });
      },
    };
  }
  if (process.env.BENCH_DATABASE_URL) {
    const store = await openStore({ databaseUrl: process.env.BENCH_DATABASE_URL, home: os.tmpdir() });
    return { store, cleanup: () => store.close() };
  }
  const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `nightshift_bench_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const store = await openStore({
    databaseUrl: `postgres://postgres@127.0.0.1:5432/${name}`,
    home: os.tmpdir(),
  });
  return {
    store,
    cleanup: async () => {
      await store.close();
      const dropper = new pg.Client({ connectionString: admin });
      await dropper.connect();
      await dropper.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

const fmt = (value: number, digits = 1) => value.toFixed(digits);
console.log(
  `DAG engine overhead: ${taskCount} no-op tasks, concurrency ${concurrency}, median of ${repeat} runs`,
);
console.log(
  `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  'store     shape    tasks/s  claim->commit p50 ms  p99 ms  ready->commit p50 ms  round trip ms  p50 in round trips',
);
for (const kind of values.stores.split(',')) {
  const { store, cleanup } = await openBenchStore(kind);
  try {
    const roundTrip = await roundTripMs(store);
    for (const [shape, dag] of [
      ['chain', chainDag(taskCount)],
      ['fan-out', fanOutDag(taskCount)],
    ] as const) {
      const samples: Sample[] = [];
      for (let i = 0; i < repeat; i++)
        samples.push(await measure(store, dag, `2001-01-${String(i + 1).padStart(2, '0')}`));
      const p50 = median(samples.map((s) => s.overheadMedianMs));
      console.log(
        [
          kind.padEnd(9),
          shape.padEnd(8),
          fmt(median(samples.map((s) => s.tasksPerSecond)), 0).padStart(7),
          fmt(p50, 2).padStart(20),
          fmt(median(samples.map((s) => s.overheadP99Ms)), 2).padStart(7),
          fmt(median(samples.map((s) => s.readyToDoneMedianMs)), 2).padStart(20),
          fmt(roundTrip, 3).padStart(14),
          fmt(p50 / roundTrip, 1).padStart(19),
        ].join(' '),
      );
    }
  } finally {
    await cleanup();
  }
}
console.log(`peak RSS ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MiB`);

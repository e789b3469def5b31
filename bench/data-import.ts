/**
 * `data import` of the 3M-row flights Parquet file (one file, its `date` TIMESTAMP column),
 * against DuckDB's own `COPY ... (PARTITION_BY ...)` of the same file into daily folders, in the
 * same process and run. Both write fresh folders each round (our import then writes every day:
 * nothing is current). Prints figures; never asserts on time.  Run: npx tsx bench/data-import.ts
 * (BENCH_RUNS rounds, default 3).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sqlString, withDuckSession } from '../src/data/duckdb.ts';
import { flightsSourceFile, importDataset } from '../src/data/index.ts';
import { median } from './median.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SOURCE = flightsSourceFile();

interface Measured {
  rows: number;
  wallMs: number[];
  cpuMs: number[];
}

/**
 * Runs the contenders in turn, `runs` rounds, so that other work on a shared machine slows
 * each of them alike (see bench/data-features.ts); CPU time (this process) varies less.
 */
async function interleaved(
  runs: number,
  contenders: Record<string, (dir: string) => Promise<number>>,
): Promise<Record<string, Measured>> {
  const measured: Record<string, Measured> = {};
  for (let round = 0; round < runs; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      const dir = await mkdtemp(path.join(os.tmpdir(), `nightshift-bench-import-${name}-`));
      try {
        const cpuBefore = process.cpuUsage();
        const start = performance.now();
        const rows = await run(dir);
        const wall = performance.now() - start;
        const cpu = process.cpuUsage(cpuBefore);
        const entry = measured[name] ?? { rows, wallMs: [], cpuMs: [] };
        measured[name] = entry;
        entry.wallMs.push(wall);
        entry.cpuMs.push((cpu.user + cpu.system) / 1000);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return measured;
}

function rowsPerSecond(measured: Measured): number {
  return (measured.rows / median(measured.wallMs)) * 1000;
}

function describe(name: string, measured: Measured): string {
  const wall = median(measured.wallMs);
  return (
    `${name}: ${measured.rows} rows, median ${wall.toFixed(0)} ms wall ` +
    `(${(rowsPerSecond(measured) / 1e6).toFixed(2)}M rows/s), ${median(measured.cpuMs).toFixed(0)} ms CPU; ` +
    `runs ${measured.wallMs.map((ms) => ms.toFixed(0)).join(', ')} ms`
  );
}

const results = await interleaved(RUNS, {
  // DuckDB alone: the same day split, no manifests, no statistics, no checksums, no atomic swap.
  duckdb: (dir) =>
    withDuckSession(async (connection) => {
      const reader = await connection.runAndReadAll(
        `COPY (SELECT *, strftime(date, '%Y-%m-%d') AS day FROM read_parquet(${sqlString(SOURCE)}))
         TO ${sqlString(path.join(dir, 'flights'))} (FORMAT parquet, PARTITION_BY (day))`,
      );
      return Number(reader.getRows()[0]?.[0] ?? 0);
    }),
  import: async (dir) => {
    const result = await importDataset({
      dataDir: dir,
      dataset: 'flights-import',
      inputs: [SOURCE],
      dateColumn: 'date',
    });
    if (result.written !== result.days.length) throw new Error('expected every day written');
    return result.rows;
  },
});
const duckdb = results.duckdb as Measured;
const imported = results.import as Measured;
console.log(`source ${SOURCE}`);
console.log(describe('DuckDB COPY ... (PARTITION_BY (day))', duckdb));
console.log(describe('nightshift data import (manifests, statistics, sha256, atomic days)', imported));
console.log(
  `ratio import/DuckDB rows/s: ${(rowsPerSecond(imported) / rowsPerSecond(duckdb)).toFixed(2)} wall; ` +
    `${(median(duckdb.cpuMs) / median(imported.cpuMs)).toFixed(2)} by CPU time (steadier on a shared machine)`,
);
console.log(
  `median of ${RUNS} runs each; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; ` +
    `${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)} (other work on the machine slows every figure)`,
);

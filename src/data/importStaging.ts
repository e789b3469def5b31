import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../errors.ts';
import { columnDifferences } from './datasetContract.ts';
import type { Day } from './dates.ts';
import { openDuckSession } from './duckdb.ts';
import type { ColumnSchema } from './manifest.ts';
import { parquetSchema } from './partitions.ts';

/** Days written at once: each is a few small DuckDB queries and a sha256; two cores are kept busy. */
const DAYS_IN_FLIGHT = 4;

/** The staging folder of an import: one `COPY ... PARTITION_BY` wrote `__day=D/` folders there. */

/**
 * The schema DuckDB reads back from the staged files when it is the source's (the statistics of
 * the scan were computed for those types); `undefined` when the Parquet writer changed a type
 * (HUGEINT is written as DOUBLE, for one): each file is then read for its own.
 */
export async function stagedSchema(
  connection: DuckDBConnection,
  stagingDir: string,
  date: Day,
  source: readonly ColumnSchema[],
): Promise<ColumnSchema[] | undefined> {
  const dayDir = path.join(stagingDir, `__day=${date}`);
  const first = (await readdir(dayDir)).filter((name) => name.endsWith('.parquet')).sort()[0];
  if (first === undefined) return undefined;
  const written = await parquetSchema(connection, path.join(dayDir, first));
  return columnDifferences(source, written).length === 0 &&
    written.every((column, index) => column.name === source[index]?.name)
    ? written
    : undefined;
}

/** Moves the staged files of one day into writePartition's folder (same file system: renames). */
export async function moveStagedFiles(stagedDir: string, tempDir: string): Promise<number> {
  const names = (await readdir(stagedDir)).filter((name) => name.endsWith('.parquet')).sort();
  if (names.length === 0)
    throw new DataError(`${stagedDir}: expected the day's staged Parquet files, found none`);
  await Promise.all(
    names.map((name, index) =>
      rename(path.join(stagedDir, name), path.join(tempDir, `part-${index}.parquet`)),
    ),
  );
  return names.length;
}

/** Runs `write` for each day, a few at once, each on its own DuckDB connection. */
export async function writeStagedDays<T>(
  days: readonly Day[],
  write: (connection: DuckDBConnection, date: Day) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  let stopped = false;
  const lanes = Array.from({ length: Math.min(DAYS_IN_FLIGHT, days.length) }, async () => {
    const session = await openDuckSession();
    try {
      while (next < days.length && !stopped) {
        const date = days[next++] as Day;
        results.push(
          await write(session.connection, date).catch((error: unknown) => {
            stopped = true;
            throw error;
          }),
        );
      }
    } finally {
      session.close();
    }
  });
  // Every lane ends before the caller removes the staging folder, failed or not.
  const settled = await Promise.allSettled(lanes);
  const failed = settled.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results;
}

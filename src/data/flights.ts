import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError, UsageError } from '../errors.ts';
import { childLogger } from '../log.ts';
import { addDays, type Day } from './dates.ts';
import { sqlString, withDuckSession } from './duckdb.ts';
import { sha256File } from './hash.ts';
import {
  firstLine,
  isPartitionCurrent,
  PARTITION_ROW_GROUP_ROWS,
  type PartitionWriteStatus,
  partitionDir,
  writePartition,
} from './partitions.ts';

export const FLIGHTS_DATASET = 'flights';

/**
 * Bump when the partitions' content or layout changes, so that existing partitions are rewritten
 * instead of skipped as current.
 */
const FLIGHTS_LAYOUT_VERSION = 2;

/**
 * The columns of a flights partition. The source's `date` timestamp becomes `departure_time`:
 * in a hive layout, DuckDB's partition detection would replace a column named `date` with the
 * folder's `date=YYYY-MM-DD` value (a DATE), silently dropping the time of day.
 */
export const FLIGHTS_COLUMNS = {
  flight_id: 'BIGINT',
  departure_time: 'TIMESTAMP',
  delay: 'BIGINT',
  distance: 'BIGINT',
  origin: 'VARCHAR',
  destination: 'VARCHAR',
} as const;

/** The Parquet file shipped in the `vega-datasets` package: 3M US flights, 2001-01-01 to 2001-06-30. */
export function flightsSourceFile(): string {
  // The package's `exports` hide package.json, so resolve its entry point and walk to data/.
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  return path.join(path.dirname(entry), '..', 'data', 'flights-3m.parquet');
}

export interface PrepareFlightsOptions {
  /** Root of the datasets; partitions go to `<dataDir>/flights/date=YYYY-MM-DD/`. */
  dataDir: string;
  from?: Day;
  /** Last day included. */
  to?: Day;
  /** Another copy of the source file (tests); defaults to the one in `vega-datasets`. */
  sourceFile?: string;
}

export interface PreparedPartition {
  date: Day;
  status: PartitionWriteStatus;
  rows: number;
}

export interface PrepareFlightsResult {
  datasetDir: string;
  partitions: PreparedPartition[];
  written: number;
  unchanged: number;
  rows: number;
}

/**
 * Writes the source's flights as daily partitions with a stable `flight_id`: the row's position
 * in the source file, so an id never depends on the `--from`/`--to` window it was prepared with.
 * Deterministic (each partition is written ordered by id, which gives byte-identical files from
 * one DuckDB version) and idempotent (a partition whose manifest records the same inputs is skipped).
 */
export async function prepareFlights(options: PrepareFlightsOptions): Promise<PrepareFlightsResult> {
  if (options.from !== undefined && options.to !== undefined && options.from > options.to) {
    throw new UsageError(`--from ${options.from} is after --to ${options.to}`);
  }
  const sourceFile = options.sourceFile ?? flightsSourceFile();
  const datasetDir = path.join(options.dataDir, FLIGHTS_DATASET);
  const log = childLogger({ component: 'data', dataset: FLIGHTS_DATASET });
  const inputs = await sourceFingerprint(sourceFile);

  return withDuckSession(async (connection) => {
    const dayCounts = await countRowsPerDay(connection, sourceFile, options.from, options.to);
    const partitions: PreparedPartition[] = [];
    const stale: Day[] = [];
    for (const [date, rows] of dayCounts) {
      if (await isPartitionCurrent(partitionDir(datasetDir, date), inputs)) {
        partitions.push({ date, status: 'unchanged', rows });
      } else {
        stale.push(date);
      }
    }
    if (stale.length > 0) {
      await stageSourceRows(connection, sourceFile, stale[0] as Day, stale[stale.length - 1] as Day);
      for (const date of stale) {
        const result = await writePartition(connection, {
          datasetDir,
          dataset: FLIGHTS_DATASET,
          date,
          inputs,
          writeFiles: (tempDir) => copyDay(connection, date, path.join(tempDir, 'part-0.parquet')),
        });
        partitions.push({ date, status: result.status, rows: result.manifest.rowCount });
        log.debug({ date, status: result.status, rows: result.manifest.rowCount }, 'flights partition');
      }
    }
    partitions.sort((a, b) => (a.date < b.date ? -1 : 1));
    const result: PrepareFlightsResult = {
      datasetDir,
      partitions,
      written: partitions.filter((p) => p.status === 'written').length,
      unchanged: partitions.filter((p) => p.status === 'unchanged').length,
      rows: partitions.reduce((sum, p) => sum + p.rows, 0),
    };
    log.info({ written: result.written, unchanged: result.unchanged, rows: result.rows }, 'flights prepared');
    return result;
  });
}

async function sourceFingerprint(sourceFile: string): Promise<Record<string, string | number>> {
  const [info, sha256, duckdbVersion] = await Promise.all([
    stat(sourceFile).catch((error: unknown) => {
      throw new DataError(`${sourceFile}: expected the flights source file: ${firstLine(error)}`, {
        cause: error,
      });
    }),
    sha256File(sourceFile),
    duckdbPackageVersion(),
  ]);
  return {
    layout: FLIGHTS_LAYOUT_VERSION,
    sourceBytes: info.size,
    sourceSha256: sha256,
    // Parquet bytes differ between DuckDB versions (writer name, encodings): part of the inputs.
    duckdb: duckdbVersion,
  };
}

async function duckdbPackageVersion(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('@duckdb/node-api');
  const packageJson = path.join(path.dirname(entry), '..', 'package.json');
  const parsed = JSON.parse(await readFile(packageJson, 'utf8')) as { version?: string };
  return parsed.version ?? 'unknown';
}

function dayFilter(from: Day | undefined, to: Day | undefined): string {
  const conditions: string[] = [];
  if (from !== undefined) conditions.push(`date >= ${sqlString(from)}::TIMESTAMP`);
  if (to !== undefined) conditions.push(`date < ${sqlString(addDays(to, 1))}::TIMESTAMP`);
  return conditions.length === 0 ? 'true' : conditions.join(' AND ');
}

async function countRowsPerDay(
  connection: DuckDBConnection,
  sourceFile: string,
  from: Day | undefined,
  to: Day | undefined,
): Promise<Map<Day, number>> {
  const sql = `SELECT strftime(date::DATE, '%Y-%m-%d') AS day, count(*)::BIGINT
    FROM read_parquet(${sqlString(sourceFile)}) WHERE ${dayFilter(from, to)} GROUP BY day ORDER BY day`;
  const reader = await readSource(connection, sourceFile, sql);
  return new Map(reader.getRows().map((row) => [String(row[0]), Number(row[1])]));
}

async function readSource(connection: DuckDBConnection, sourceFile: string, sql: string) {
  try {
    return await connection.runAndReadAll(sql);
  } catch (error) {
    throw new DataError(
      `${sourceFile}: expected a Parquet file with columns date TIMESTAMP, delay, distance, origin, destination: ${firstLine(error)}`,
      { cause: error },
    );
  }
}

/** Loads the source rows of a day range once, so that each day's COPY scans memory, not the file. */
async function stageSourceRows(
  connection: DuckDBConnection,
  sourceFile: string,
  from: Day,
  to: Day,
): Promise<void> {
  await connection.run('DROP TABLE IF EXISTS staged_flights');
  const sql = `CREATE TEMP TABLE staged_flights AS
    SELECT file_row_number::BIGINT AS flight_id, date AS departure_time, delay::BIGINT AS delay,
      distance::BIGINT AS distance, origin::VARCHAR AS origin, destination::VARCHAR AS destination
    FROM read_parquet(${sqlString(sourceFile)}, file_row_number = true)
    WHERE ${dayFilter(from, to)}`;
  await readSource(connection, sourceFile, sql);
}

async function copyDay(connection: DuckDBConnection, date: Day, target: string): Promise<void> {
  await connection.run(
    `COPY (SELECT * FROM staged_flights
      WHERE departure_time >= ${sqlString(date)}::TIMESTAMP AND departure_time < ${sqlString(addDays(date, 1))}::TIMESTAMP
      ORDER BY flight_id)
    TO ${sqlString(target)} (FORMAT parquet, ROW_GROUP_SIZE ${PARTITION_ROW_GROUP_ROWS})`,
  );
}

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Day } from './dates.ts';
import { sqlString } from './duckdb.ts';

/**
 * Where rows that break a contract go: `<dir>/date=D/<name>.parquet`, with `dir` usually
 * `<home>/errors/<dag>` and `name` the stage that rejected them (`features`, `ingest`). One file
 * per stage and day, replaced on rerun, so a rerun never accumulates copies.
 */
export interface ErrorSink {
  dir: string;
  name: string;
}

export function errorSinkFor(home: string, dag: string, name: string): ErrorSink {
  return { dir: path.join(home, 'errors', dag), name };
}

export function errorSinkFile(sink: ErrorSink, date: Day): string {
  return path.join(sink.dir, `date=${date}`, `${sink.name}.parquet`);
}

/**
 * Columns of an error file. A Parquet source fills `source_file` and `source_row` (0-based row
 * in that file); a Kafka source fills `topic`, `partition` and `offset`.
 */
export const ERROR_ROW_COLUMNS = `raw VARCHAR, reason VARCHAR, source_file VARCHAR, source_row BIGINT,
  topic VARCHAR, "partition" INTEGER, "offset" BIGINT`;

/**
 * Writes the rows of `selectSql` (with the columns above, in order) as the day's error file,
 * atomically; an empty selection removes a stale file from an earlier run.
 */
export async function writeErrorFile(
  connection: DuckDBConnection,
  sink: ErrorSink,
  date: Day,
  selectSql: string,
  rowCount: number,
): Promise<string | undefined> {
  const file = errorSinkFile(sink, date);
  if (rowCount === 0) {
    await rm(file, { force: true });
    return undefined;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await connection.run(`COPY (${selectSql}) TO ${sqlString(temp)} (FORMAT parquet)`);
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
  return file;
}

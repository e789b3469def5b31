import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { sqlString, withDuckSession } from '../../src/data/duckdb.ts';
import type { Day } from '../../src/data/index.ts';
import { writePartition } from '../../src/data/partitions.ts';

/** A fresh folder under the system temp dir, removed after the file's tests. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `nightshift-${prefix}-`));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Rows of a SQL query as plain JS values (for assertions, not for hot paths). */
export async function query(sql: string): Promise<unknown[][]> {
  return withDuckSession(async (connection) => (await connection.runAndReadAll(sql)).getRowsJS());
}

/** Writes `selectSql`'s rows as a complete partition (files and manifest), as a real producer would. */
export async function writeTestPartition(datasetDir: string, date: Day, selectSql: string): Promise<void> {
  await withDuckSession((connection) =>
    writePartition(connection, {
      datasetDir,
      dataset: path.basename(datasetDir),
      date,
      inputs: { test: selectSql },
      writeFiles: async (tempDir) => {
        await connection.run(
          `COPY (${selectSql}) TO ${sqlString(path.join(tempDir, 'part-0.parquet'))} (FORMAT parquet)`,
        );
      },
    }),
  );
}

export function parquetOf(file: string): string {
  return `read_parquet(${sqlString(file)}, hive_partitioning = false)`;
}

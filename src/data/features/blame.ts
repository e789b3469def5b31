import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../../errors.ts';
import { sqlString } from '../duckdb.ts';
import { firstLine } from '../partitions.ts';

/** Re-runs a failed multi-file read file by file, to throw a DataError naming the bad file. */
export async function blameFile(
  files: readonly string[],
  readOne: (file: string) => Promise<unknown>,
  original: unknown,
): Promise<never> {
  throw (
    (await unreadableFile(files, readOne)) ??
    new DataError(`reading ${files.length} Parquet files failed: ${firstLine(original)}`, { cause: original })
  );
}

/** The first file that `readOne` fails on, as a DataError naming it; undefined when every one reads. */
export async function unreadableFile(
  files: readonly string[],
  readOne: (file: string) => Promise<unknown>,
): Promise<DataError | undefined> {
  for (const file of files) {
    try {
      await readOne(file);
    } catch (error) {
      return new DataError(`${file}: expected a readable Parquet file, reading failed: ${firstLine(error)}`, {
        cause: error,
      });
    }
  }
  return undefined;
}

/**
 * SQL that decodes every data page of a file. DuckDB answers `count(*)`, and even
 * `count(column)` of a column without nulls, from the footer: hashing every value forces it
 * to read them all.
 */
export function readEveryColumn(file: string): string {
  return `SELECT bit_xor(hash(COLUMNS(*))) FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`;
}

/** The `readOne` of `blameFile` and `unreadableFile` that decodes a whole file (`readEveryColumn`). */
export function readingEveryColumn(connection: DuckDBConnection): (file: string) => Promise<unknown> {
  return (file) => connection.run(readEveryColumn(file));
}

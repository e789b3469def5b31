import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../errors.ts';
import type { Day } from './dates.ts';
import { sqlIdentifier, sqlString } from './duckdb.ts';
import { fileStatsQuery } from './fileStats.ts';
import { type ImportFormat, SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN } from './importSource.ts';
import type { ColumnSchema, FileStats } from './manifest.ts';
import { firstLine } from './partitions.ts';

/** The scan of an import's rows that decides what to write: see `fingerprintDays`. */

export interface DayFingerprint {
  rows: number;
  hash: string;
  /** The day's file statistics, computed here so that writePartition need not scan the file. */
  stats: Omit<FileStats, 'mtimeMs'>;
}

export interface DayFingerprints {
  days: Map<Day, DayFingerprint>;
  /** Rows read, good and bad. */
  read: number;
  /** Rows in the import's range plus rows without a day: what the error rate is counted on. */
  total: number;
  errors: number;
}

/**
 * Each day's row count, the sum of its rows' hashes (equal data gives equal sums whatever the
 * files' row order, so a re-import finds the days it would not change without writing them),
 * and its statistics for the manifest, in one scan. Measured on the 3M flights (loaded
 * machine): the statistics added about 0.8 s to this scan, against 3.5 s as one query per day.
 */
export async function fingerprintDays(
  connection: DuckDBConnection,
  rows: string,
  schema: readonly ColumnSchema[],
  inRange: string,
  files: readonly string[],
): Promise<DayFingerprints> {
  const stats = fileStatsQuery(schema);
  const hashed = schema.map((column) => sqlIdentifier(column.name)).join(', ');
  // Grouped by the DATE, formatted after: grouping 3M flights by the formatted string took 498 ms
  // against 230 (the same scan, alone on a quiet machine).
  const sql = `SELECT strftime(__group, '%Y-%m-%d'), __bad, __rows, __hash, ${stats.results.join(', ')} FROM (
      SELECT CASE WHEN __reason IS NULL AND ${inRange} THEN __day END AS __group,
        __reason IS NOT NULL AS __bad, count(*)::BIGINT AS __rows, sum(hash(${hashed})::HUGEINT)::VARCHAR AS __hash,
        ${stats.aggregates.join(', ')}
      FROM ${rows} GROUP BY ALL)`;
  let result: unknown[][];
  try {
    result = (await connection.runAndReadAll(sql)).getRowsJS();
  } catch (error) {
    throw new DataError(
      `${files[0]}${files.length > 1 ? ` and ${files.length - 1} more` : ''}: cannot read: ${firstLine(error)}`,
      { cause: error },
    );
  }
  const fingerprints: DayFingerprints = { days: new Map(), read: 0, total: 0, errors: 0 };
  for (const [day, bad, count, hash, ...statValues] of result) {
    const rowCount = Number(count);
    fingerprints.read += rowCount;
    if (bad === true) {
      fingerprints.errors += rowCount;
      fingerprints.total += rowCount;
    } else if (day !== null) {
      const { mtimeMs: _, ...dayStats } = stats.read(statValues, 0);
      fingerprints.days.set(String(day), { rows: rowCount, hash: String(hash), stats: dayStats });
      fingerprints.total += rowCount;
    }
  }
  return fingerprints;
}

/** The rows without a day, for the error sink: each row as JSON, the reason, its file and row. */
export function errorSelect(rows: string, schema: readonly ColumnSchema[], format: ImportFormat): string {
  const json = `json_object(${schema.map((c) => `${sqlString(c.name)}, ${sqlIdentifier(c.name)}`).join(', ')})::VARCHAR`;
  const sourceRow = format === 'parquet' ? `${SOURCE_ROW_COLUMN}::BIGINT` : 'NULL::BIGINT';
  return `SELECT ${json} AS raw, __reason AS reason, ${sqlIdentifier(SOURCE_FILE_COLUMN)} AS source_file,
      ${sourceRow} AS source_row, NULL::VARCHAR AS topic, NULL::INTEGER AS "partition", NULL::BIGINT AS "offset"
    FROM ${rows} WHERE __reason IS NOT NULL ORDER BY source_file, source_row`;
}

import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError, UsageError } from '../errors.ts';
import { typeFamily } from './contract.ts';
import type { Day } from './dates.ts';
import { sqlIdentifier, sqlString } from './duckdb.ts';
import type { ColumnSchema } from './manifest.ts';
import { firstLine } from './partitions.ts';

/** The formats `data import` reads, as DuckDB's `read_parquet`, `read_csv` and `read_json` do. */
export type ImportFormat = 'parquet' | 'csv' | 'ndjson';
export const IMPORT_FORMATS: readonly ImportFormat[] = ['parquet', 'csv', 'ndjson'];

const EXTENSIONS: Record<ImportFormat, readonly string[]> = {
  parquet: ['.parquet', '.pq'],
  csv: ['.csv', '.tsv', '.csv.gz', '.tsv.gz'],
  ndjson: ['.ndjson', '.jsonl', '.json', '.ndjson.gz', '.jsonl.gz', '.json.gz'],
};

/** Columns the readers add: which file a row came from, and its row number in a Parquet file. */
export const SOURCE_FILE_COLUMN = '__nightshift_file';
export const SOURCE_ROW_COLUMN = 'file_row_number';

export function formatOfFile(file: string): ImportFormat | undefined {
  const lower = file.toLowerCase();
  return IMPORT_FORMATS.find((format) => EXTENSIONS[format].some((ext) => lower.endsWith(ext)));
}

/**
 * The files of the import's arguments, as Ray Data's readers take paths: a file as is, a folder
 * for every file of the format under it (recursively; hidden files and `_` files such as
 * manifests left out), a glob for the files DuckDB's `glob()` matches. Sorted, without repeats.
 * The format is `format`, or the one every file's extension names.
 */
export async function resolveImportFiles(
  connection: DuckDBConnection,
  inputs: readonly string[],
  format: ImportFormat | undefined,
): Promise<{ files: string[]; format: ImportFormat }> {
  if (inputs.length === 0) throw new UsageError('expected at least one file, folder or glob to import');
  const found = new Set<string>();
  for (const input of inputs) {
    const matches = /[*?[{]/.test(input)
      ? await globFiles(connection, input)
      : await filesAt(path.resolve(input), format);
    if (matches.length === 0) {
      throw new UsageError(
        `${input}: expected ${format ?? 'Parquet, CSV or NDJSON'} files, found none` +
          (/[*?[{]/.test(input) ? ' matching the glob' : ''),
      );
    }
    for (const file of matches) found.add(file);
  }
  const files = [...found].sort();
  if (format !== undefined) return { files, format };
  const formats = new Map<ImportFormat, string>();
  for (const file of files) {
    const own = formatOfFile(file);
    if (own === undefined) {
      throw new UsageError(
        `${file}: cannot tell its format from the extension; pass --format ${IMPORT_FORMATS.join('|')}`,
      );
    }
    formats.set(own, file);
  }
  if (formats.size > 1) {
    throw new UsageError(
      `the inputs mix formats (${[...formats].map(([f, file]) => `${f}: ${file}`).join('; ')}); import one format at a time`,
    );
  }
  return { files, format: [...formats.keys()][0] as ImportFormat };
}

async function filesAt(input: string, format: ImportFormat | undefined): Promise<string[]> {
  const info = await stat(input).catch(() => undefined);
  if (info === undefined) throw new UsageError(`${input}: no such file or folder`);
  if (!info.isDirectory()) return [input];
  const entries = await readdir(input, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .filter(
      (file) =>
        !path
          .relative(input, file)
          .split(path.sep)
          .some((part) => /^[._]/.test(part)),
    )
    .filter((file) => {
      const own = formatOfFile(file);
      return own !== undefined && (format === undefined || own === format);
    });
}

async function globFiles(connection: DuckDBConnection, pattern: string): Promise<string[]> {
  const reader = await connection.runAndReadAll(`SELECT file FROM glob(${sqlString(pattern)})`);
  return reader.getRows().map((row) => path.resolve(String(row[0])));
}

/** A reader of the files with the source file (and, for Parquet, row) of every row. */
export function sourceRelation(files: readonly string[], format: ImportFormat): string {
  const list = `[${files.map(sqlString).join(', ')}]`;
  const common = `filename = ${sqlString(SOURCE_FILE_COLUMN)}, union_by_name = true, hive_partitioning = false`;
  switch (format) {
    case 'parquet':
      return `read_parquet(${list}, ${common}, file_row_number = true)`;
    case 'csv':
      return `read_csv(${list}, ${common})`;
    case 'ndjson':
      return `read_json(${list}, ${common}, format = 'newline_delimited')`;
  }
}

/** The data columns of the files (reader columns left out), from footers or DuckDB's sniffing. */
export async function describeSource(
  connection: DuckDBConnection,
  relation: string,
  files: readonly string[],
): Promise<ColumnSchema[]> {
  try {
    const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
    return reader
      .getRows()
      .map((row) => ({ name: String(row[0]), type: String(row[1]) }))
      .filter((column) => column.name !== SOURCE_FILE_COLUMN && column.name !== SOURCE_ROW_COLUMN);
  } catch (error) {
    throw new DataError(
      `${files.length === 1 ? files[0] : `${files.length} files (${files[0]}, ...)`}: cannot read: ${firstLine(error)}`,
      { cause: error },
    );
  }
}

export interface DayRule {
  /** `--date-column`; absent with `--date` alone: every row is that day. */
  dateColumn?: string;
  /** `--date`: the file is that one day. */
  date?: Day;
  /** IANA zone of the days, for TIMESTAMPTZ values and strings with an offset; default UTC. */
  timezone?: string;
  /** `--date-format`: strptime format of a VARCHAR or integer date column, e.g. `%Y%m%d`. */
  dateFormat?: string;
}

/**
 * SQL for a row's day (a DATE, NULL when the value is null or cannot be read) and for why a
 * row has none (NULL for good rows). Naive timestamps are wall-clock times: their day is their
 * date part; instants (TIMESTAMPTZ, strings with an offset) take the day in `timezone`.
 */
export function dayExpressions(
  schema: readonly ColumnSchema[],
  rule: DayRule,
): { day: string; reason: string } {
  if (rule.dateColumn === undefined) {
    if (rule.date === undefined)
      throw new UsageError('expected --date-column <col>, or --date D for a one-day file');
    return { day: `DATE ${sqlString(rule.date)}`, reason: 'NULL::VARCHAR' };
  }
  const name = rule.dateColumn;
  const found = schema.find((column) => column.name === name);
  if (found === undefined) {
    throw new UsageError(
      `--date-column '${name}': no such column; found ${schema.map((c) => `${c.name} ${c.type}`).join(', ')}`,
    );
  }
  const column = sqlIdentifier(name);
  const zone = sqlString(rule.timezone ?? 'UTC');
  const family = typeFamily(found.type);
  let day: string;
  let expected: string;
  if (rule.dateFormat !== undefined && (family === 'string' || family === 'integer')) {
    const parsed = `try_strptime(${column}::VARCHAR, ${sqlString(rule.dateFormat)})`;
    day = /%z|%Z/.test(rule.dateFormat)
      ? `CAST(timezone(${zone}, ${parsed}) AS DATE)`
      : `CAST(${parsed} AS DATE)`;
    expected = `a date in the format ${rule.dateFormat}`;
  } else if (found.type === 'DATE') {
    day = column;
    expected = 'a date';
  } else if (found.type === 'TIMESTAMP WITH TIME ZONE') {
    day = `CAST(timezone(${zone}, ${column}) AS DATE)`;
    expected = 'a timestamp';
  } else if (family === 'timestamp') {
    day = `CAST(${column} AS DATE)`;
    expected = 'a timestamp';
  } else if (family === 'string') {
    // An offset makes the string an instant; without one it is a wall-clock time or a date.
    day = `CASE WHEN regexp_matches(${column}, '^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}.*(Z|[+-]\\d{2}(:?\\d{2})?)$')
      THEN CAST(timezone(${zone}, try_cast(${column} AS TIMESTAMPTZ)) AS DATE)
      ELSE CAST(try_cast(${column} AS TIMESTAMP) AS DATE) END`;
    expected = 'a date or timestamp (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]); --date-format reads other layouts';
  } else {
    throw new UsageError(
      `--date-column '${name}' is ${found.type}: expected a DATE, TIMESTAMP, TIMESTAMPTZ or VARCHAR column` +
        (family === 'integer' ? ', or --date-format to read its digits (e.g. %Y%m%d)' : ''),
    );
  }
  const quotedName = name.replaceAll("'", "''");
  const checks = [
    `WHEN ${column} IS NULL THEN 'date column ''${quotedName}'' is null'`,
    `WHEN (${day}) IS NULL THEN 'date column ''${quotedName}'': expected ${expected.replaceAll("'", "''")}, found ' || left(${column}::VARCHAR, 80)`,
  ];
  if (rule.date !== undefined) {
    checks.push(
      `WHEN (${day}) <> DATE ${sqlString(rule.date)} THEN 'date column ''${quotedName}'' is ' || (${day})::VARCHAR || ', not --date ${rule.date}'`,
    );
  }
  return { day, reason: `CASE ${checks.join(' ')} END` };
}

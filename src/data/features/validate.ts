import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import { checkSchema, typeFamily } from '../contract.ts';
import type { Day } from '../dates.ts';
import { sqlIdentifier, sqlString } from '../duckdb.ts';
import { type ErrorSink, writeErrorFile } from '../errorSink.ts';
import type { ColumnSchema } from '../manifest.ts';
import type { Partition } from '../partitions.ts';
import { blameFile, readingEveryColumn } from './blame.ts';
import type { FittedFeatures } from './fitted.ts';
import { type FileFooter, filesNeedingScan, partitionFooters } from './footers.ts';
import { type ReadSource, type RowRange, readSql, sourceRows } from './source.ts';
import { type ColumnUses, columnRequirements, validRowExpression, violationExpression } from './sql.ts';

export const DEFAULT_MAX_ERROR_RATE = 0.01;

export interface FeatureReadReport {
  /** Rows read from the sources, good and bad. */
  rows: number;
  /** Rows that broke the contract: counted here, written to the error sink, left out of the batches. */
  errorRows: number;
  errorRate: number;
  /** Error files written, one per day with bad rows. */
  errorFiles: string[];
  byDate: { date: Day; rows: number; errorRows: number }[];
  /** Files whose footer statistics could not prove them clean, so were scanned row by row. */
  scannedFiles: number;
}

export interface ValidatedSource {
  /** The files and row ranges read. */
  source: ReadSource;
  files: string[];
  report: FeatureReadReport;
  idIsInteger: boolean;
  /** For each slice column, its distinct values (sorted); a row's slice code indexes this list. */
  sliceValues: Map<string, string[]>;
  /** Columns stored as floats: the only ones that can hold NaN, so the only ones checked for it. */
  floatColumns: Set<string>;
  /** Each file's row count (the whole file's, whatever its range). */
  fileRows: Map<string, number>;
}

export interface ValidateOptions {
  partitions: readonly Partition[];
  /** Row ranges of some files (the others are read whole). */
  ranges?: ReadonlyMap<string, RowRange> | undefined;
  /** Compute the slice columns' values (default true): scoring does not need them. */
  withSlices?: boolean;
  fitted: FittedFeatures;
  withLabels: boolean;
  errorSink?: ErrorSink | undefined;
  maxErrorRate: number;
}

/**
 * Checks sources against the contract before extraction, reading as little as it can:
 * footers give every file's schema, row count and per-column null counts and minimums, which
 * prove most files clean (no null where one is not allowed, nothing at or below -1 for log1p;
 * integer columns cannot hold NaN). Only files that footers cannot clear are scanned, to count
 * and sink their bad rows. Measured on 1M flights: 40 ms instead of 250 ms for a full scan.
 * The manifests' file statistics stand in for the footers, and their distinct values for the
 * slice columns' scan, where they still describe the files: 59 days of flights (966k rows)
 * then validate in 4 ms instead of 40 (21 for their footers, 13 for the scan of `origin`).
 * Then `maxErrorRate` is enforced, before any batch is handed out.
 */
export async function validateFeatureSource(
  connection: DuckDBConnection,
  options: ValidateOptions,
): Promise<ValidatedSource> {
  const { fitted, withLabels } = options;
  const uses: ColumnUses = {
    id: fitted.id,
    features: fitted.features,
    label: fitted.label,
    slices: fitted.slices,
  };
  const files = options.partitions.flatMap((partition) => partition.files);
  const source: ReadSource = { files, ranges: options.ranges };
  const report: FeatureReadReport = {
    rows: 0,
    errorRows: 0,
    errorRate: 0,
    errorFiles: [],
    byDate: [],
    scannedFiles: 0,
  };
  const floatColumns = new Set<string>();
  if (files.length === 0)
    return {
      source,
      files,
      report,
      idIsInteger: true,
      sliceValues: new Map(),
      floatColumns,
      fileRows: new Map(),
    };

  const footers = await partitionFooters(connection, options.partitions);
  const requirements = columnRequirements(uses, withLabels);
  for (const file of files) checkSchema(file, footerOf(footers, file).schema, requirements);
  for (const footer of footers.values()) {
    for (const column of footer.schema)
      if (typeFamily(column.type) === 'float') floatColumns.add(column.name);
  }
  const suspicious = filesNeedingScan(files, footers, uses, withLabels);
  const errorRows = await countBadRows(
    connection,
    { files: suspicious, ranges: options.ranges },
    validRowExpression(uses, withLabels, floatColumns),
  );
  report.scannedFiles = suspicious.length;

  const violation = violationExpression(uses, withLabels, floatColumns);
  for (const partition of options.partitions) {
    const counts = { date: partition.date, rows: 0, errorRows: 0 };
    for (const file of partition.files) {
      counts.rows += sourceRows(source, file, footerOf(footers, file).rows);
      counts.errorRows += errorRows.get(file) ?? 0;
    }
    if (options.errorSink) {
      const schema = footerOf(footers, partition.files[0] as string).schema;
      const errorFile = await writeErrorFile(
        connection,
        options.errorSink,
        partition.date,
        errorRowsSql({ files: partition.files, ranges: options.ranges }, schema, violation),
        counts.errorRows,
      );
      if (errorFile) report.errorFiles.push(errorFile);
    }
    report.rows += counts.rows;
    report.errorRows += counts.errorRows;
    report.byDate.push(counts);
  }
  report.errorRate = report.rows === 0 ? 0 : report.errorRows / report.rows;
  checkErrorRate(fitted.spec.name, report, options.maxErrorRate, options.errorSink !== undefined);

  const idType =
    footerOf(footers, files[0] as string).schema.find((column) => column.name === fitted.id)?.type ?? '';
  const sliceValues = new Map<string, string[]>();
  if (options.withSlices ?? true) {
    for (const slice of fitted.slices) {
      const values =
        recordedValues(source, footers, slice) ?? (await distinctValues(connection, source, slice));
      sliceValues.set(slice, values);
    }
  }
  const fileRows = new Map(files.map((file) => [file, footerOf(footers, file).rows]));
  return {
    source,
    files,
    report,
    idIsInteger: typeFamily(idType) === 'integer',
    sliceValues,
    floatColumns,
    fileRows,
  };
}

function footerOf(footers: Map<string, FileFooter>, file: string): FileFooter {
  const footer = footers.get(file);
  if (footer === undefined) throw new DataError(`${file}: expected a Parquet footer, found none`);
  return footer;
}

/** Bad rows per file, counted by scanning the files (all at once; file by file to name a corrupt one). */
async function countBadRows(
  connection: DuckDBConnection,
  source: ReadSource,
  valid: string,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (source.files.length === 0) return counts;
  const sql = `SELECT filename, count(*) FILTER (WHERE NOT (${valid}))::BIGINT
    FROM ${readSql(source, { filename: true })} GROUP BY filename`;
  let rows: unknown[][];
  try {
    rows = (await connection.runAndReadAll(sql)).getRowsJS();
  } catch (error) {
    return blameFile(source.files, readingEveryColumn(connection), error);
  }
  for (const [file, count] of rows) counts.set(String(file), Number(count));
  return counts;
}

/**
 * A column's distinct values over the source from the files' recorded ones: their union, in
 * DuckDB's order, the list `distinctValues` gives. Undefined when a file has none recorded or a
 * row range (its values may lie outside the range).
 */
function recordedValues(
  source: ReadSource,
  footers: Map<string, FileFooter>,
  column: string,
): string[] | undefined {
  const union = new Set<string>();
  for (const file of source.files) {
    const values = footers.get(file)?.values?.get(column);
    if (values === undefined || source.ranges?.has(file)) return undefined;
    for (const value of values) union.add(value);
  }
  return [...union].sort(compareUtf8);
}

/**
 * DuckDB orders VARCHAR by UTF-8 bytes, that is by code point; JS's default sort compares UTF-16
 * units, which puts a character past U+FFFF (a surrogate pair) before U+E000 to U+FFFF.
 */
function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x === y) continue;
    return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Orders UTF-16 units as their code points order: surrogates (U+D800-DFFF) after U+E000-FFFF. */
function codePointRank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2000 : unit >= 0xe000 ? unit - 0x800 : unit;
}

async function distinctValues(
  connection: DuckDBConnection,
  source: ReadSource,
  column: string,
): Promise<string[]> {
  const value = `CAST(${sqlIdentifier(column)} AS VARCHAR)`;
  const sql = `SELECT DISTINCT ${value} AS v FROM ${readSql(source)} WHERE v IS NOT NULL ORDER BY v`;
  try {
    return (await connection.runAndReadAll(sql)).getRowsJS().map((row) => String(row[0]));
  } catch (error) {
    return blameFile(source.files, readingEveryColumn(connection), error);
  }
}

function errorRowsSql(source: ReadSource, schema: readonly ColumnSchema[], violation: string): string {
  // DuckDB's to_json writes NaN and Infinity bare, which is not JSON: write them as strings.
  const jsonValue = (column: ColumnSchema) => {
    const name = sqlIdentifier(column.name);
    return typeFamily(column.type) === 'float'
      ? `CASE WHEN ${name} IS NULL OR isfinite(${name}) THEN to_json(${name}) ELSE to_json(CAST(${name} AS VARCHAR)) END`
      : name;
  };
  const raw = `json_object(${schema.map((column) => `${sqlString(column.name)}, ${jsonValue(column)}`).join(', ')})`;
  return `SELECT ${raw}::VARCHAR AS raw, __reason AS reason, __file AS source_file, __row::BIGINT AS source_row,
      NULL::VARCHAR AS topic, NULL::INTEGER AS "partition", NULL::BIGINT AS "offset"
    FROM (SELECT *, filename AS __file, file_row_number AS __row, (${violation}) AS __reason
      FROM ${readSql(source, { filename: true, rowNumber: true })})
    WHERE __reason IS NOT NULL ORDER BY source_file, source_row`;
}

function checkErrorRate(spec: string, report: FeatureReadReport, maxErrorRate: number, sunk: boolean): void {
  if (report.errorRows === 0) return;
  const log = childLogger({ component: 'data', spec });
  const percent = (100 * report.errorRate).toFixed(2);
  const where = sunk ? `see ${report.errorFiles.join(', ')}` : 'no error sink was given';
  if (report.errorRate > maxErrorRate) {
    throw new DataError(
      `${report.errorRows} of ${report.rows} rows (${percent}%) broke the feature contract of '${spec}', ` +
        `more than maxErrorRate ${(100 * maxErrorRate).toFixed(2)}%; ${where}`,
    );
  }
  log.warn(
    { errorRows: report.errorRows, rows: report.rows, errorFiles: report.errorFiles },
    `bad rows left out; ${where}`,
  );
}

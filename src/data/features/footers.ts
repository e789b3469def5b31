import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { typeFamily } from '../contract.ts';
import { sqlString } from '../duckdb.ts';
import { type ColumnSchema, currentFileStats, type FileStats } from '../manifest.ts';
import type { Partition } from '../partitions.ts';
import { blameFile } from './blame.ts';
import { sqlFileList } from './fit.ts';
import type { ColumnUses } from './sql.ts';

/** What a Parquet footer says of a file, without reading its data pages. */
export interface FileFooter {
  schema: ColumnSchema[];
  rows: number;
  /** Per top-level column: nulls over all row groups (undefined when a row group has no statistics). */
  nullCounts: Map<string, number | undefined>;
  /** Per numeric column: the smallest value (undefined when unknown). */
  minimums: Map<string, number | undefined>;
  /** Per VARCHAR column with few values: its distinct values, sorted. Only manifests record them. */
  values?: Map<string, readonly string[]>;
}

/**
 * The footers of the partitions' files. A file whose manifest statistics still describe it (same
 * size and mtime) gets its footer from them, without opening the file; the others are read by
 * `readFooters`. On 59 days of flights, reading the footers took 21 ms; their `stat`s, done
 * concurrently, take about 1.
 */
export async function partitionFooters(
  connection: DuckDBConnection,
  partitions: readonly Partition[],
): Promise<Map<string, FileFooter>> {
  const recorded = await Promise.all(
    partitions.map((partition) => currentFileStats(partition.dir, partition.manifest)),
  );
  const fromStats = new Map<string, FileFooter>();
  partitions.forEach((partition, index) => {
    const { schema, files } = partition.manifest;
    // A partition may list some of its manifest's files (a scoring shard): match them by path.
    const listed = new Set(partition.files);
    files.forEach((file, fileIndex) => {
      const stats = recorded[index]?.[fileIndex];
      const location = path.join(partition.dir, file.name);
      if (stats !== undefined && listed.has(location)) {
        fromStats.set(location, footerFromStats(schema, file.rows, stats));
      }
    });
  });
  const files = partitions.flatMap((partition) => partition.files);
  const unrecorded = files.filter((file) => !fromStats.has(file));
  const read = unrecorded.length > 0 ? await readFooters(connection, unrecorded) : new Map();
  const footers = new Map<string, FileFooter>();
  for (const file of files) {
    const footer = fromStats.get(file) ?? read.get(file);
    if (footer !== undefined) footers.set(file, footer);
  }
  return footers;
}

function footerFromStats(schema: ColumnSchema[], rows: number, stats: FileStats): FileFooter {
  return {
    schema,
    rows,
    nullCounts: new Map(Object.entries(stats.nullCounts)),
    minimums: new Map(Object.entries(stats.minimums)),
    values: new Map(Object.entries(stats.values)),
  };
}

/** Schemas and statistics of every file in two footer-only queries; an unreadable footer fails by file name. */
export async function readFooters(
  connection: DuckDBConnection,
  files: readonly string[],
): Promise<Map<string, FileFooter>> {
  const schemaSql = (list: string) =>
    `SELECT file_name, name, duckdb_type FROM parquet_schema(${list})
     WHERE duckdb_type IS NOT NULL ORDER BY file_name, column_id`;
  const statsSql = (list: string) =>
    `SELECT file_name, path_in_schema, sum(row_group_num_rows)::BIGINT,
       CASE WHEN count(stats_null_count) = count(*) THEN sum(stats_null_count)::BIGINT END,
       CASE WHEN count(TRY_CAST(stats_min_value AS DOUBLE)) = count(*) THEN min(TRY_CAST(stats_min_value AS DOUBLE)) END
     FROM parquet_metadata(${list}) GROUP BY ALL`;
  const run = async (sql: (list: string) => string) => {
    try {
      return (await connection.runAndReadAll(sql(sqlFileList(files)))).getRowsJS();
    } catch (error) {
      return blameFile(files, (file) => connection.run(sql(sqlString(file))), error);
    }
  };
  const footers = new Map<string, FileFooter>(
    files.map((file) => [file, { schema: [], rows: 0, nullCounts: new Map(), minimums: new Map() }]),
  );
  for (const [file, name, type] of await run(schemaSql)) {
    footers.get(String(file))?.schema.push({ name: String(name), type: String(type) });
  }
  for (const [file, column, rows, nulls, minimum] of await run(statsSql)) {
    const footer = footers.get(String(file));
    if (footer === undefined) continue;
    footer.rows = Math.max(footer.rows, Number(rows));
    footer.nullCounts.set(String(column), nulls === null ? undefined : Number(nulls));
    footer.minimums.set(String(column), minimum === null ? undefined : Number(minimum));
  }
  return footers;
}

/**
 * The files whose statistics cannot prove every row keeps the contract: a possible null where
 * none is allowed, a float column (NaN is not in Parquet statistics), or a log1p input whose
 * minimum is unknown or at most -1 after clipping.
 */
export function filesNeedingScan(
  files: readonly string[],
  footers: Map<string, FileFooter>,
  uses: ColumnUses,
  withLabels: boolean,
): string[] {
  return files.filter((file) => {
    const footer = footers.get(file);
    if (footer === undefined) return true;
    const types = new Map(footer.schema.map((column) => [column.name, column.type]));
    const mayHoldNull = (column: string) => footer.nullCounts.get(column) !== 0;
    const isFloat = (column: string) => typeFamily(types.get(column) ?? '') === 'float';
    if (mayHoldNull(uses.id)) return true;
    for (const feature of uses.features) {
      const nullable = feature.kind === 'categorical' && feature.nullable;
      if (!nullable && mayHoldNull(feature.column)) return true;
      if (feature.kind !== 'categorical' && isFloat(feature.column)) return true;
      if (
        feature.kind === 'numeric' &&
        feature.log1p &&
        !(feature.clipMin !== null && feature.clipMin > -1)
      ) {
        const minimum = footer.minimums.get(feature.column);
        if (minimum === undefined || minimum <= -1) return true;
      }
    }
    if (withLabels && uses.label) {
      if (mayHoldNull(uses.label.column) || isFloat(uses.label.column)) return true;
    }
    return false;
  });
}

import { typeFamily } from './contract.ts';
import { sqlIdentifier } from './duckdb.ts';
import { type ColumnSchema, type FileStats, MAX_RECORDED_VALUES } from './manifest.ts';

/**
 * The SQL of a file's column statistics (see `FileStats`) and how to read its result. The
 * aggregates run over the file's rows (as `__s0`, `__s1`, ...), possibly grouped (one group per
 * file: `data import` computes every day's statistics in the scan that splits them); the
 * results are selected over those aggregates, in order, and `read` turns one result row into
 * the statistics.
 */
export interface FileStatsQuery {
  aggregates: string[];
  results: string[];
  read(values: readonly unknown[], mtimeMs: number): FileStats;
}

export function fileStatsQuery(schema: readonly ColumnSchema[]): FileStatsQuery {
  // Each statistic: an aggregate over the file, then what is returned of it.
  const selected: {
    aggregate: string;
    result?: (aggregated: string) => string;
    record(stats: FileStats, value: unknown): void;
  }[] = [];
  for (const { name, type } of schema) {
    const column = sqlIdentifier(name);
    selected.push({
      aggregate: `(count(*) - count(${column}))::BIGINT`,
      record: (stats, value) => {
        stats.nullCounts[name] = Number(value);
      },
    });
    const family = typeFamily(type);
    if (family === 'integer' || family === 'float') {
      // min() ranks NaN above every number; the footer's minimum is absent when a NaN is there.
      const aggregate = /^(FLOAT|DOUBLE)$/.test(type)
        ? `CASE WHEN isnan(max(${column})) THEN NULL ELSE min(${column}) END::DOUBLE`
        : `min(${column})::DOUBLE`;
      selected.push({
        aggregate,
        record: (stats, value) => {
          if (typeof value === 'number' && Number.isFinite(value)) stats.minimums[name] = value;
        },
      });
    } else if (type === 'VARCHAR') {
      selected.push({
        aggregate: `list(DISTINCT ${column}) FILTER (WHERE ${column} IS NOT NULL)`,
        result: (list) =>
          `CASE WHEN ${list} IS NULL THEN [] WHEN len(${list}) <= ${MAX_RECORDED_VALUES} THEN list_sort(${list}) END`,
        record: (stats, value) => {
          if (Array.isArray(value)) stats.values[name] = value.map(String);
        },
      });
    }
  }
  return {
    aggregates: selected.map((item, index) => `${item.aggregate} AS __s${index}`),
    results: selected.map((item, index) => item.result?.(`__s${index}`) ?? `__s${index}`),
    read(values, mtimeMs) {
      const stats: FileStats = { mtimeMs, nullCounts: {}, minimums: {}, values: {} };
      selected.forEach((item, index) => {
        item.record(stats, values[index]);
      });
      return stats;
    },
  };
}

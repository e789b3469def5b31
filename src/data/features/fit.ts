import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../../errors.ts';
import { checkSchema } from '../contract.ts';
import { sqlIdentifier, sqlString, withDuckSession } from '../duckdb.ts';
import { type Partition, parquetSchema } from '../partitions.ts';
import { blameFile, readingEveryColumn } from './blame.ts';
import {
  FITTED_FEATURES_FORMAT,
  type FittedFeature,
  type FittedFeatures,
  type FittedNumeric,
  featureSlots,
} from './fitted.ts';
import type { FeatureDefinition, FeatureSpec } from './spec.ts';
import {
  type ColumnUses,
  clippedValue,
  columnRequirements,
  numericBeforeStandardize,
  violationExpression,
} from './sql.ts';

/**
 * Learns the spec's statistics on a training window, all in DuckDB: quantiles for clipping,
 * mean and standard deviation after clip and log1p, vocabularies by frequency. Rows that break
 * the contract are left out of every statistic (extraction counts and sinks them).
 */
export async function fitFeatures(
  spec: FeatureSpec,
  partitions: readonly Partition[],
): Promise<FittedFeatures> {
  if (partitions.length === 0) {
    throw new DataError(
      `fitting '${spec.name}': expected at least one partition in the training window, found none`,
    );
  }
  const provisional = Object.entries(spec.features).map(([name, definition]) =>
    provisionalFeature(name, definition),
  );
  const uses: ColumnUses = {
    id: spec.id,
    features: provisional,
    label: spec.label,
    slices: spec.slices ?? [],
  };
  const files = partitions.flatMap((partition) => partition.files);

  return withDuckSession(async (connection) => {
    const requirements = columnRequirements(uses, false);
    for (const file of files) checkSchema(file, await parquetSchema(connection, file), requirements);
    const valid = `(SELECT * FROM read_parquet(${sqlFileList(files)}, hive_partitioning = false)
      WHERE (${violationExpression(uses, false, undefined, false)}) IS NULL)`;
    // Materialised once: every statistic below reads it, and the window is days, not years.
    try {
      await connection.run(`CREATE TEMP TABLE training AS SELECT * FROM ${valid}`);
    } catch (error) {
      await blameFile(files, readingEveryColumn(connection), error);
    }
    const rows = Number(
      (await connection.runAndReadAll('SELECT count(*)::BIGINT FROM training')).getRows()[0]?.[0],
    );
    if (rows === 0) throw new DataError(`fitting '${spec.name}': no valid rows in ${files.length} files`);

    const features: FittedFeature[] = [];
    for (const [index, feature] of provisional.entries()) {
      const definition = Object.values(spec.features)[index] as FeatureDefinition;
      features.push(await fitFeature(connection, feature, definition));
    }
    return {
      format: FITTED_FEATURES_FORMAT,
      spec: { name: spec.name, version: spec.version },
      id: spec.id,
      features,
      slots: featureSlots(features),
      ...(spec.label ? { label: spec.label } : {}),
      slices: spec.slices ?? [],
      fittedOn: { rows, dates: partitions.map((partition) => partition.date) },
      fittedAt: new Date().toISOString(),
    };
  });
}

export function sqlFileList(files: readonly string[]): string {
  return `[${files.map(sqlString).join(', ')}]`;
}

/** The feature as it is before fitting: fixed clip bounds only, no statistics, empty vocabulary. */
function provisionalFeature(name: string, definition: FeatureDefinition): FittedFeature {
  switch (definition.kind) {
    case 'numeric': {
      const clip = definition.clip;
      const fixed = clip && !('quantiles' in clip) ? clip : undefined;
      return {
        name,
        kind: 'numeric',
        column: definition.column,
        clipMin: fixed?.min ?? null,
        clipMax: fixed?.max ?? null,
        log1p: definition.log1p ?? false,
        mean: 0,
        std: 1,
      };
    }
    case 'cyclic':
      return {
        name,
        kind: 'cyclic',
        column: definition.column,
        cycle: 'unit' in definition ? { unit: definition.unit } : { period: definition.period },
      };
    case 'categorical':
      return definition.encoding.type === 'hash'
        ? {
            name,
            kind: 'categorical',
            column: definition.column,
            nullable: definition.nullable ?? false,
            encoding: 'hash',
            buckets: definition.encoding.buckets,
          }
        : {
            name,
            kind: 'categorical',
            column: definition.column,
            nullable: definition.nullable ?? false,
            encoding: 'vocabulary',
            vocabulary: [],
          };
  }
}

async function fitFeature(
  connection: DuckDBConnection,
  feature: FittedFeature,
  definition: FeatureDefinition,
): Promise<FittedFeature> {
  if (feature.kind === 'numeric' && definition.kind === 'numeric')
    return fitNumeric(connection, feature, definition);
  if (
    feature.kind === 'categorical' &&
    feature.encoding === 'vocabulary' &&
    definition.kind === 'categorical'
  ) {
    if (definition.encoding.type !== 'vocabulary') return feature;
    const value = `CAST(${sqlIdentifier(feature.column)} AS VARCHAR)`;
    const minCount = definition.encoding.minCount ?? 1;
    // Ties broken by value so that the vocabulary (and every index) is deterministic.
    const reader = await connection.runAndReadAll(
      `SELECT ${value} AS value, count(*) AS n FROM training WHERE ${value} IS NOT NULL
       GROUP BY value HAVING n >= ${minCount} ORDER BY n DESC, value ASC LIMIT ${definition.encoding.topN}`,
    );
    return { ...feature, vocabulary: reader.getRows().map((row) => String(row[0])) };
  }
  return feature;
}

async function fitNumeric(
  connection: DuckDBConnection,
  provisional: FittedNumeric,
  definition: Extract<FeatureDefinition, { kind: 'numeric' }>,
): Promise<FittedNumeric> {
  let feature = provisional;
  const value = `CAST(${sqlIdentifier(feature.column)} AS DOUBLE)`;
  if (definition.clip && 'quantiles' in definition.clip) {
    const [low, high] = definition.clip.quantiles;
    const reader = await connection.runAndReadAll(
      `SELECT quantile_cont(${value}, ${low}), quantile_cont(${value}, ${high}) FROM training`,
    );
    const row = reader.getRows()[0] ?? [];
    feature = { ...feature, clipMin: Number(row[0]), clipMax: Number(row[1]) };
  }
  if (!definition.standardize) return feature;
  const transformed = numericBeforeStandardize(feature);
  const domain = feature.log1p ? `WHERE ${clippedValue(feature)} > -1` : '';
  const reader = await connection.runAndReadAll(
    `SELECT avg(v), stddev_pop(v) FROM (SELECT ${transformed} AS v FROM training ${domain})`,
  );
  const row = reader.getRows()[0] ?? [];
  const mean = Number(row[0]);
  const std = Number(row[1]);
  // A constant column would divide by zero: leave it centred, unscaled.
  return { ...feature, mean, std: std > 0 && Number.isFinite(std) ? std : 1 };
}

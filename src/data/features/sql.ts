import type { ColumnRequirements, TypeFamily } from '../contract.ts';
import { requireColumn } from '../contract.ts';
import { sqlIdentifier, sqlNumber, sqlString } from '../duckdb.ts';
import type { FittedCategorical, FittedFeature, FittedFeatures, FittedNumeric } from './fitted.ts';
import type { LabelDefinition } from './spec.ts';
import { type VectorLayout, valueColumnsSql, vectorLayout } from './vector.ts';

/**
 * SQL generation for the transform. Everything a row goes through on its way to the float
 * vector is one DuckDB expression, so extraction is a single vectorised query per source.
 */

const NUMBER: readonly TypeFamily[] = ['integer', 'float'];
const TIMESTAMP: readonly TypeFamily[] = ['timestamp'];
const CATEGORY: readonly TypeFamily[] = ['string', 'integer', 'boolean'];

/** The part of a spec or fitted spec that says which columns are read, and how. */
export interface ColumnUses {
  id: string;
  features: readonly FittedFeature[];
  label?: LabelDefinition | undefined;
  slices: readonly string[];
}

export function columnRequirements(uses: ColumnUses, withLabels: boolean): ColumnRequirements {
  const requirements: ColumnRequirements = new Map();
  requireColumn(requirements, uses.id, ['integer', 'string'], 'the id');
  for (const feature of uses.features) {
    const families =
      feature.kind === 'numeric'
        ? NUMBER
        : feature.kind === 'categorical'
          ? CATEGORY
          : 'unit' in feature.cycle
            ? TIMESTAMP
            : NUMBER;
    requireColumn(requirements, feature.column, families, `feature '${feature.name}'`);
  }
  if (withLabels && uses.label) {
    const label = uses.label;
    const families =
      label.kind === 'binary' && typeof label.positiveWhen.value === 'string' ? CATEGORY : NUMBER;
    requireColumn(requirements, label.column, families, 'the label');
  }
  for (const slice of uses.slices)
    requireColumn(requirements, slice, [...CATEGORY, 'float', 'timestamp'], `slice '${slice}'`);
  return requirements;
}

function column(name: string): string {
  return sqlIdentifier(name);
}

function asDouble(name: string): string {
  return `CAST(${column(name)} AS DOUBLE)`;
}

export function clippedValue(feature: FittedNumeric): string {
  let value = asDouble(feature.column);
  if (feature.clipMin !== null) value = `greatest(${value}, ${sqlNumber(feature.clipMin)})`;
  if (feature.clipMax !== null) value = `least(${value}, ${sqlNumber(feature.clipMax)})`;
  return value;
}

/** Clip and log1p: the value standardisation is fitted on. */
export function numericBeforeStandardize(feature: FittedNumeric): string {
  const clipped = clippedValue(feature);
  return feature.log1p ? `ln(1 + ${clipped})` : clipped;
}

/** Index 0 is out of vocabulary (or null when allowed); known values are 1..N in vocabulary order. */
function categoricalExpression(feature: FittedCategorical): string {
  const value = `CAST(${column(feature.column)} AS VARCHAR)`;
  if (feature.encoding === 'hash') {
    return `CASE WHEN ${value} IS NULL THEN 0 ELSE 1 + (md5_number(${value}) % ${feature.buckets}) END`;
  }
  return enumIndex(value, feature.vocabulary, 1, 0);
}

/** Lists up to this long are scanned; longer ones go through a hash lookup. */
const LINEAR_LOOKUP_MAX = 256;

/**
 * Position of a string in a list (from `base`; `missing` when absent or null). Streaming 1M
 * flights, 223 airports: `list_position` took 66 ms of CPU, a cast to an inline ENUM (a hash
 * lookup) 96 ms; the scan grows with the list, so very long vocabularies use the ENUM. No
 * arithmetic is added when the position needs none: each operation on a million integers is
 * a checked pass over them (`- 1 + 1` on two lookups cost 4% of a feature read's CPU).
 */
export function enumIndex(value: string, values: readonly string[], base: number, missing: number): string {
  if (values.length === 0) return `${missing}`;
  const plus = (position: string, offset: number) =>
    offset === 0 ? position : `${position} ${offset > 0 ? '+' : '-'} ${Math.abs(offset)}`;
  if (values.length <= LINEAR_LOOKUP_MAX) {
    // list_position counts from 1.
    return `coalesce(${plus(`list_position([${values.map(sqlString).join(', ')}], ${value})`, base - 1)}, ${missing})`;
  }
  const enumType = `ENUM(${values.map(sqlString).join(', ')})`;
  return `coalesce(${plus(`enum_code(TRY_CAST(${value} AS ${enumType}))`, base)}, ${missing})`;
}

/**
 * The SQL side of the feature vector: `values` selects a row's DuckDB-computed floats, one
 * FLOAT column each, and `layout` lists the DOUBLE source columns to select beside them and
 * how `expandRows` fills the slots from both. `extras` come after the features' values (see
 * `vectorLayout`).
 */
export function featureVector(
  fitted: FittedFeatures,
  extras: readonly string[] = [],
): { values: string[]; layout: VectorLayout } {
  const layout = vectorLayout(fitted.features, categoricalExpression, extras);
  return { values: valueColumnsSql(layout), layout };
}

export function idExpression(idIsInteger: boolean, id: string): string {
  return idIsInteger ? `CAST(${column(id)} AS BIGINT)` : `CAST(${column(id)} AS VARCHAR)`;
}

/**
 * The label as a float. A number compares with the column as it is stored, except a float
 * column, which compares in DOUBLE as the fit does (a FLOAT column against 2^24 + 1 would
 * otherwise round the threshold): an integer literal keeps an integer column's comparison in
 * integers, 5 ms less DuckDB CPU per million rows than a cast to DOUBLE and a CASE. Rows with a
 * null label never get here: they break the contract.
 */
export function labelExpression(label: LabelDefinition, columnIsFloat: boolean): string {
  if (label.kind === 'regression') return `CAST(${column(label.column)} AS FLOAT)`;
  const { op, value } = label.positiveWhen;
  if (typeof value === 'string') {
    return `CAST((CAST(${column(label.column)} AS VARCHAR) ${op} ${sqlString(value)}) AS FLOAT)`;
  }
  if (columnIsFloat || !Number.isSafeInteger(value)) {
    return `CAST((${asDouble(label.column)} ${op} ${sqlNumber(value)}) AS FLOAT)`;
  }
  return `CAST((${column(label.column)} ${op} ${value}) AS FLOAT)`;
}

interface Check {
  condition: string;
  message: string;
}

/**
 * The contract of a row: each check is a condition that breaks it and a message naming the
 * feature, the column and what was expected. `floatColumns` lists the columns stored as floats:
 * only those can hold NaN or infinity, so integer columns skip that check. `domainChecks: false`
 * leaves out checks that need fitted values (log1p's domain after clipping), for fitting.
 */
function contractChecks(
  uses: ColumnUses,
  withLabels: boolean,
  floatColumns: ReadonlySet<string> | undefined,
  domainChecks: boolean,
): Check[] {
  const checks: Check[] = [];
  const add = (condition: string, message: string) => checks.push({ condition, message });
  const mayBeNaN = (name: string) => floatColumns === undefined || floatColumns.has(name);
  add(`${column(uses.id)} IS NULL`, `id column '${uses.id}' is null, expected a value`);
  for (const feature of uses.features) {
    const where = `feature '${feature.name}', column '${feature.column}'`;
    const isTimestamp = feature.kind === 'cyclic' && 'unit' in feature.cycle;
    const isNumber = feature.kind === 'numeric' || (feature.kind === 'cyclic' && !isTimestamp);
    if (!(feature.kind === 'categorical' && feature.nullable)) {
      add(
        `${column(feature.column)} IS NULL`,
        `${where}: null, expected ${isNumber ? 'a finite number' : 'a value'}`,
      );
    }
    if (isNumber && mayBeNaN(feature.column)) {
      add(`NOT isfinite(${asDouble(feature.column)})`, `${where}: NaN or infinite, expected a finite number`);
    }
    if (feature.kind === 'numeric' && feature.log1p && domainChecks) {
      add(
        `${clippedValue(feature)} <= -1`,
        `${where}: ${feature.column} <= -1 after clipping, expected > -1 for log1p`,
      );
    }
  }
  if (withLabels && uses.label) {
    const label = uses.label;
    add(`${column(label.column)} IS NULL`, `label column '${label.column}' is null, expected a value`);
    const numeric = label.kind === 'regression' || typeof label.positiveWhen.value === 'number';
    if (numeric && mayBeNaN(label.column)) {
      add(
        `NOT isfinite(${asDouble(label.column)})`,
        `label column '${label.column}': NaN or infinite, expected a finite number`,
      );
    }
  }
  return checks;
}

/** The first way a row breaks the contract, as a message; NULL for a good row. */
export function violationExpression(
  uses: ColumnUses,
  withLabels: boolean,
  floatColumns?: ReadonlySet<string>,
  domainChecks = true,
): string {
  const checks = contractChecks(uses, withLabels, floatColumns, domainChecks);
  return `CASE ${checks.map((check) => `WHEN ${check.condition} THEN ${sqlString(check.message)}`).join(' ')} ELSE NULL END`;
}

/**
 * True for a row that keeps the contract. The same checks as `violationExpression` without
 * building messages: the filter on the hot path is a plain boolean.
 */
export function validRowExpression(
  uses: ColumnUses,
  withLabels: boolean,
  floatColumns?: ReadonlySet<string>,
): string {
  const checks = contractChecks(uses, withLabels, floatColumns, true);
  return `NOT coalesce(${checks.map((check) => `(${check.condition})`).join(' OR ')}, false)`;
}

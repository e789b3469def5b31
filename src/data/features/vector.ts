import { sqlIdentifier } from '../duckdb.ts';
import { dayPosition, periodFractionSql, splitMicros, timestampMicrosSql, unitTable } from './cyclic.ts';
import type { FittedCategorical, FittedFeature, FittedNumeric } from './fitted.ts';
import type { TimeUnit } from './spec.ts';

/**
 * How a row's feature vector is made. DuckDB returns the values it computes best (categorical
 * indices: string lookups; period fractions) as FLOAT columns, one per value. Numeric features
 * and timestamps leave DuckDB as DOUBLE source columns beside them. JS then writes every slot
 * with one tight loop per feature: a strided copy of a DuckDB value; clip, log1p and
 * standardise; days and seconds of the day into sin and cos by table lookup.
 * Measured on 966k flights with one DuckDB thread: DuckDB spent 91 ms on the nine slots computed
 * in SQL, 52 ms on the same vector with distance and the departure time as sources and zeros
 * in their slots (`greatest`/`least`, `ln` and the floor-modulo arithmetic on microseconds cost 8
 * to 16 ms each there). The DuckDB values were one `FLOAT[m]` column until the chunks were read
 * through DuckDB's C API: building the list and casting it to an array cost DuckDB 35 ms of CPU
 * per 966k rows for four values (123 ms against 88 for four FLOAT columns), while a column more
 * costs the reader about 5 us per 2,048-row chunk.
 */
export interface VectorLayout {
  /**
   * One SQL expression per DuckDB-computed value, each selected as a FLOAT column in this order:
   * the features' values first, then the extras (the label, slice codes) from `firstExtra`.
   */
  sqlColumns: string[];
  firstExtra: number;
  slots: number;
  /** DOUBLE columns returned beside the values, in this order; a source used twice is read once. */
  sources: string[];
  /** Sources holding epoch microseconds: split into days and seconds once per chunk. */
  timeSources: number[];
  /** How each slot is written, feature by feature. */
  steps: Step[];
  scratch: Scratch;
}

type Step =
  | { kind: 'copy'; slot: number; column: number }
  | {
      kind: 'numeric';
      slot: number;
      source: number;
      clipMin: number;
      clipMax: number;
      log1p: boolean;
      mean: number;
      std: number;
      /** log1p's results for the integers from `ceil(clipMin)`, when the clip range is short (see `integerTable`). */
      table: Float32Array | undefined;
    }
  | { kind: 'unit'; slot: number; source: number; unit: TimeUnit; table: Float32Array }
  | { kind: 'period'; slot: number; column: number };

/** Per-chunk work arrays (per time source), grown to the largest chunk seen and reused. */
interface Scratch {
  rows: number;
  days: Int32Array[];
  seconds: Int32Array[];
}

/**
 * Lays out the vector; `categorical` gives the SQL of a categorical feature's one float, and
 * `extras` are more floats a row that are not features (the label, slice codes), read from
 * DuckDB as the features' values are.
 */
export function vectorLayout(
  features: readonly FittedFeature[],
  categorical: (feature: FittedCategorical) => string,
  extras: readonly string[] = [],
): VectorLayout {
  const sqlColumns: string[] = [];
  const sources: string[] = [];
  const timeSources: number[] = [];
  const steps: Step[] = [];
  const source = (sql: string, time: boolean) => {
    let index = sources.indexOf(sql);
    if (index < 0) {
      index = sources.push(sql) - 1;
      if (time) timeSources.push(index);
    }
    return index;
  };
  let slot = 0;
  for (const feature of features) {
    if (feature.kind === 'categorical') {
      steps.push({ kind: 'copy', slot, column: sqlColumns.push(categorical(feature)) - 1 });
      slot += 1;
    } else if (feature.kind === 'numeric') {
      steps.push({
        kind: 'numeric',
        slot,
        source: source(`CAST(${sqlIdentifier(feature.column)} AS DOUBLE)`, false),
        clipMin: feature.clipMin ?? Number.NEGATIVE_INFINITY,
        clipMax: feature.clipMax ?? Number.POSITIVE_INFINITY,
        log1p: feature.log1p,
        mean: feature.mean,
        std: feature.std,
        table: feature.log1p ? integerTable(feature) : undefined,
      });
      slot += 1;
    } else if ('period' in feature.cycle) {
      const fraction = periodFractionSql({ ...feature, cycle: feature.cycle });
      steps.push({ kind: 'period', slot, column: sqlColumns.push(fraction) - 1 });
      slot += 2;
    } else {
      const unit = feature.cycle.unit;
      steps.push({
        kind: 'unit',
        slot,
        source: source(timestampMicrosSql(feature.column), true),
        unit,
        table: unitTable(unit),
      });
      slot += 2;
    }
  }
  const firstExtra = sqlColumns.push(...extras) - extras.length;
  const scratch: Scratch = { rows: 0, days: [], seconds: [] };
  return { sqlColumns, firstExtra, slots: slot, sources, timeSources, steps, scratch };
}

/** The select list of the DuckDB-computed values: one FLOAT column each, in layout order. */
export function valueColumnsSql(layout: VectorLayout): string[] {
  return layout.sqlColumns.map((column) => `CAST(${column} AS FLOAT)`);
}

/**
 * Writes `rows` rows into `to` (row-major, `slots` wide) from row `at`: DuckDB's value columns
 * (`values[i]` for `sqlColumns[i]`) and source columns (`sources[i]`), both from the same row.
 */
export function expandRows(
  layout: VectorLayout,
  values: readonly Float32Array[],
  sources: readonly Float64Array[],
  rows: number,
  to: Float32Array,
  at: number,
): void {
  const slots = layout.slots;
  const scratch = growScratch(layout, rows);
  for (const index of layout.timeSources) {
    splitMicros(
      sources[index] as Float64Array,
      rows,
      scratch.days[index] as Int32Array,
      scratch.seconds[index] as Int32Array,
    );
  }
  const first = at * slots;
  for (const step of layout.steps) {
    if (step.kind === 'copy') {
      const input = values[step.column] as Float32Array;
      for (let row = 0, output = first + step.slot; row < rows; row++, output += slots)
        to[output] = input[row] as number;
    } else if (step.kind === 'numeric') {
      writeNumeric(step, sources[step.source] as Float64Array, rows, to, first + step.slot, slots);
    } else if (step.kind === 'period') {
      const input = values[step.column] as Float32Array;
      for (let row = 0, output = first + step.slot; row < rows; row++, output += slots) {
        const angle = 2 * Math.PI * (input[row] as number);
        to[output] = Math.sin(angle);
        to[output + 1] = Math.cos(angle);
      }
    } else {
      const seconds = scratch.seconds[step.source] as Int32Array;
      const days = scratch.days[step.source] as Int32Array;
      writeUnit(step, days, seconds, rows, to, first + step.slot, slots);
    }
  }
}

/**
 * sin and cos of a time unit by table lookup: the second of the day indexes the hour's table;
 * the other units depend on the day only, and rows of a partition share a few days, so each
 * day's pair is looked up once per run of rows on it.
 */
function writeUnit(
  step: Extract<Step, { kind: 'unit' }>,
  days: Int32Array,
  seconds: Int32Array,
  rows: number,
  to: Float32Array,
  first: number,
  stride: number,
): void {
  const { table, unit } = step;
  if (unit === 'hourOfDay') {
    for (let row = 0, output = first; row < rows; row++, output += stride) {
      const index = 2 * (seconds[row] as number);
      to[output] = table[index] as number;
      to[output + 1] = table[index + 1] as number;
    }
    return;
  }
  let lastDay = Number.NaN;
  let sin = 0;
  let cos = 0;
  for (let row = 0, output = first; row < rows; row++, output += stride) {
    const day = days[row] as number;
    if (day !== lastDay) {
      const index = 2 * dayPosition(unit, day);
      sin = table[index] as number;
      cos = table[index + 1] as number;
      lastDay = day;
    }
    to[output] = sin;
    to[output + 1] = cos;
  }
}

/** Integer clip ranges up to this long get a table of log1p results (16 KiB of floats at most). */
const INTEGER_TABLE_MAX = 4096;

/**
 * The transformed value of every integer in a log1p feature's clip range, computed once per
 * read by `numericValue`, so a table hit is bit for bit what the computation gives.
 * Integer-valued columns are common (distances, counts, minutes) and `Math.log` is most of a
 * numeric slot's cost: 9 ms per million rows against 1 for a lookup.
 */
function integerTable(feature: FittedNumeric): Float32Array | undefined {
  if (feature.clipMin === null || feature.clipMax === null) return undefined;
  const first = Math.ceil(feature.clipMin);
  const length = Math.floor(feature.clipMax) - first + 1;
  if (!(length > 0 && length <= INTEGER_TABLE_MAX)) return undefined;
  const { clipMin, clipMax, log1p, mean, std } = feature;
  const table = new Float32Array(length);
  for (let index = 0; index < length; index++)
    table[index] = numericValue(first + index, clipMin, clipMax, log1p, mean, std);
  return table;
}

/** Clip, log1p, standardise: the same arithmetic, in doubles, as the SQL the fit ran. */
function numericValue(
  value: number,
  clipMin: number,
  clipMax: number,
  log1p: boolean,
  mean: number,
  std: number,
): number {
  const clipped = Math.min(Math.max(value, clipMin), clipMax);
  return ((log1p ? Math.log(1 + clipped) : clipped) - mean) / std;
}

/** A numeric slot for `rows` rows: from the integer table where it has the value, else computed. */
function writeNumeric(
  step: Extract<Step, { kind: 'numeric' }>,
  values: Float64Array,
  rows: number,
  to: Float32Array,
  first: number,
  stride: number,
): void {
  const { clipMin, clipMax, log1p, mean, std, table } = step;
  if (table === undefined) {
    for (let row = 0, output = first; row < rows; row++, output += stride)
      to[output] = numericValue(values[row] as number, clipMin, clipMax, log1p, mean, std);
    return;
  }
  // Clipped values are in [clipMin, clipMax]; the integers among them index the table.
  const offset = Math.ceil(clipMin);
  for (let row = 0, output = first; row < rows; row++, output += stride) {
    const value = values[row] as number;
    const index = Math.min(Math.max(value, clipMin), clipMax) - offset;
    const whole = index | 0;
    to[output] =
      whole === index && whole >= 0 && whole < table.length
        ? (table[whole] as number)
        : numericValue(value, clipMin, clipMax, log1p, mean, std);
  }
}

function growScratch(layout: VectorLayout, rows: number): Scratch {
  const scratch = layout.scratch;
  if (scratch.rows >= rows) return scratch;
  scratch.rows = rows;
  for (const index of layout.timeSources) {
    scratch.days[index] = new Int32Array(rows);
    scratch.seconds[index] = new Int32Array(rows);
  }
  return scratch;
}

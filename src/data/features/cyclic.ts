import { sqlIdentifier, sqlNumber } from '../duckdb.ts';
import type { FittedCyclic, FittedFeature } from './fitted.ts';
import type { TimeUnit } from './spec.ts';

/**
 * Cyclic features leave DuckDB as plain numbers and become `sin` and `cos` in JS. From a
 * timestamp column DuckDB computes its second of the day (for the hour) or its day within the
 * 400-year Gregorian cycle (146,097 days, a whole number of weeks, so weekday, day of year and
 * month repeat exactly); features on the same column share that arithmetic (DuckDB computes a
 * repeated expression once). JS turns days into positions (arithmetic, cached for runs of rows
 * on the same day) and positions into sin and cos by table lookup. A numeric column with a
 * period leaves as the fraction of its period, and goes through `Math.sin`/`Math.cos`.
 * Measured on 966k flights, three cyclic features on one timestamp (hour, weekday, season):
 * DuckDB spent 64 ms of CPU on [distance, three positions] and 37 ms on [distance, second of
 * the day, day of the era]; the JS expansion of the nine slots took 26 ms against 45 ms with
 * one position per feature and a switch per value. Earlier, the six trigonometric calls in SQL
 * had cost 230 ms more than the table lookups.
 */

const MICROS_PER_DAY = 86_400_000_000;
const DAYS_PER_ERA = 146_097;

/** Positions of each unit's cycle (integers from 0) and how many positions make one turn. */
const UNIT_CYCLES: Record<TimeUnit, { positions: number; turn: number }> = {
  // Second of the day: sub-second parts are dropped (7e-5 radians at most).
  hourOfDay: { positions: 86_400, turn: 86_400 },
  dayOfWeek: { positions: 7, turn: 7 },
  // Day of the year from 0; a turn is a mean year, so 31 December of a leap year is 365.
  dayOfYear: { positions: 366, turn: 365.25 },
  monthOfYear: { positions: 12, turn: 12 },
};

/**
 * The two floats of a timestamp column, read as UTC from the epoch in microseconds (DuckDB
 * evaluates that 2x faster than `hour()` or `dayofyear()`). Floor modulo of the era first, so
 * dates before 1970 come out right and both values stay exact in a float (below 2^24).
 */
export function timestampPartsSql(column: string): { secondOfDay: string; dayOfEra: string } {
  const micros = `epoch_us(CAST(${sqlIdentifier(column)} AS TIMESTAMP))`;
  const era = DAYS_PER_ERA * MICROS_PER_DAY;
  const inEra = `(((${micros} % ${era}) + ${era}) % ${era})`;
  return {
    secondOfDay: `((${inEra} % ${MICROS_PER_DAY}) // 1000000)`,
    dayOfEra: `(${inEra} // ${MICROS_PER_DAY})`,
  };
}

/** SQL for a numeric column's position in its period: the fractional part of `value / period`. */
export function periodFractionSql(feature: FittedCyclic & { cycle: { period: number } }): string {
  const turns = `(CAST(${sqlIdentifier(feature.column)} AS DOUBLE) / ${sqlNumber(feature.cycle.period)})`;
  return `(${turns} - floor(${turns}))`;
}

const tables = new Map<TimeUnit, Float32Array>();

/**
 * sin and cos of each position, interleaved: one lookup reads both from the same cache line.
 * The hour table is 675 KiB and read at random (flights are ordered by id, not by time).
 */
function unitTable(unit: TimeUnit): Float32Array {
  let table = tables.get(unit);
  if (table === undefined) {
    const { positions, turn } = UNIT_CYCLES[unit];
    table = new Float32Array(2 * positions);
    for (let position = 0; position < positions; position++) {
      const angle = (2 * Math.PI * position) / turn;
      table[2 * position] = Math.sin(angle);
      table[2 * position + 1] = Math.cos(angle);
    }
    tables.set(unit, table);
  }
  return table;
}

/**
 * Day of the year from 0 and month from 0 of a day counted from 1970-01-01 (any integer):
 * Howard Hinnant's `civil_from_days`, with the year starting in March so February comes last.
 */
export function calendarPositions(day: number): { dayOfYear: number; month: number } {
  const z = day + 719_468;
  const era = Math.floor(z / DAYS_PER_ERA);
  const dayOfEra = z - era * DAYS_PER_ERA;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayFromMarch = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayFromMarch + 2) / 153);
  if (monthFromMarch >= 10) return { dayOfYear: dayFromMarch - 306, month: monthFromMarch - 10 };
  // March to December of `year`: January and February of that year came first.
  const year = yearOfEra + era * 400;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0;
  return { dayOfYear: dayFromMarch + 59 + leap, month: monthFromMarch + 2 };
}

/** How a cyclic feature's two slots are filled in place from what DuckDB put in the first. */
type Step =
  | { kind: 'unit'; slot: number; unit: TimeUnit; table: Float32Array }
  | { kind: 'period'; slot: number };

/**
 * DuckDB returns one float per slot of the feature vector, so each chunk is copied in one piece
 * into the batch; a cyclic feature's first slot carries its source (second of the day, day of
 * the era, or fraction of the period) and its second a placeholder, both replaced in place by
 * sin and cos. Against a vector of just the sources copied slot by slot: JS 26 ms instead of
 * 30 per 966k flights (the main thread is the busier side of extraction), DuckDB 8 ms more CPU.
 */
export interface VectorLayout {
  /** One SQL expression per slot: the `FLOAT[slots]` vector DuckDB returns. */
  sqlColumns: string[];
  slots: number;
  /** Cyclic features, patched in place after the copy; none: the copy is all. */
  steps: Step[];
  /** Per-row positions of one cyclic feature, reused from chunk to chunk. */
  scratch: Int32Array;
}

/** Lays out the SQL vector: `expression` gives the one float of a numeric or categorical feature. */
export function vectorLayout(
  features: readonly FittedFeature[],
  expression: (feature: FittedFeature) => string,
): VectorLayout {
  const sqlColumns: string[] = [];
  const steps: Step[] = [];
  for (const feature of features) {
    const slot = sqlColumns.length;
    if (feature.kind !== 'cyclic') {
      sqlColumns.push(expression(feature));
      continue;
    }
    const { cycle } = feature;
    if ('period' in cycle) {
      steps.push({ kind: 'period', slot });
      sqlColumns.push(periodFractionSql({ ...feature, cycle }), '0');
      continue;
    }
    const parts = timestampPartsSql(feature.column);
    steps.push({ kind: 'unit', slot, unit: cycle.unit, table: unitTable(cycle.unit) });
    sqlColumns.push(cycle.unit === 'hourOfDay' ? parts.secondOfDay : parts.dayOfEra, '0');
  }
  return { sqlColumns, slots: sqlColumns.length, steps, scratch: new Int32Array(0) };
}

/**
 * Copies `rows` rows of DuckDB's vectors (row-major, `slots` wide) into `to` at row `at`, then
 * turns each cyclic feature's source into its sin and cos, one tight loop per feature.
 */
export function expandRows(
  layout: VectorLayout,
  from: Float32Array,
  rows: number,
  to: Float32Array,
  at: number,
): void {
  const slots = layout.slots;
  to.set(from.subarray(0, rows * slots), at * slots);
  if (layout.steps.length === 0) return;
  if (layout.scratch.length < rows) layout.scratch = new Int32Array(rows);
  const positions = layout.scratch;
  const first = at * slots;
  for (const step of layout.steps) {
    if (step.kind === 'period') {
      for (let row = 0, output = first + step.slot; row < rows; row++, output += slots) {
        const angle = 2 * Math.PI * (to[output] as number);
        to[output] = Math.sin(angle);
        to[output + 1] = Math.cos(angle);
      }
      continue;
    }
    unitPositions(step.unit, to, first + step.slot, slots, rows, positions);
    const table = step.table;
    for (let row = 0, output = first + step.slot; row < rows; row++, output += slots) {
      const index = 2 * (positions[row] as number);
      to[output] = table[index] as number;
      to[output + 1] = table[index + 1] as number;
    }
  }
}

/** Positions of `rows` rows in the unit's cycle, from the second of the day or the day of the era. */
function unitPositions(
  unit: TimeUnit,
  values: Float32Array,
  first: number,
  stride: number,
  rows: number,
  positions: Int32Array,
): void {
  if (unit === 'hourOfDay') {
    for (let row = 0, input = first; row < rows; row++, input += stride)
      positions[row] = values[input] as number;
    return;
  }
  if (unit === 'dayOfWeek') {
    // 1970-01-01 was a Thursday, and an era is a whole number of weeks: 0 is Monday, as ISO counts.
    // `| 0`: an integer modulo; `%` on the float itself is a slow fmod.
    for (let row = 0, input = first; row < rows; row++, input += stride)
      positions[row] = (((values[input] as number) | 0) + 3) % 7;
    return;
  }
  // Rows of a partition share a few days: compute each day's position once per run of them.
  let lastDay = Number.NaN;
  let lastPosition = 0;
  for (let row = 0, input = first; row < rows; row++, input += stride) {
    const day = values[input] as number;
    if (day !== lastDay) {
      const calendar = calendarPositions(day);
      lastPosition = unit === 'dayOfYear' ? calendar.dayOfYear : calendar.month;
      lastDay = day;
    }
    positions[row] = lastPosition;
  }
}

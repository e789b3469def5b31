import { sqlIdentifier, sqlNumber } from '../duckdb.ts';
import type { FittedCyclic, FittedFeature } from './fitted.ts';
import type { TimeUnit } from './spec.ts';

/**
 * Cyclic features leave DuckDB as one number, their position in the cycle, and become `sin`
 * and `cos` in JS: by table lookup for timestamp units (86,400 seconds of a day, 7 days of a
 * week...), by `Math.sin`/`Math.cos` of the fraction for a numeric column and its period.
 * Measured on 1M flights with three cyclic features: extraction took 30% less CPU than with
 * the six trigonometric calls in SQL (450 ms against 680 ms), the expansion loop costing 60 ms.
 */

const MICROS_PER_DAY = 86_400_000_000;

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
 * SQL for the position in the cycle: an integer for timestamp units, computed from the epoch
 * in microseconds where possible (DuckDB evaluates that 2x faster than `hour()` or `isodow()`),
 * read as UTC; the fractional part of `value / period` for numeric columns.
 */
export function cyclePositionSql(feature: FittedCyclic): string {
  const name = sqlIdentifier(feature.column);
  if ('period' in feature.cycle) {
    const turns = `(CAST(${name} AS DOUBLE) / ${sqlNumber(feature.cycle.period)})`;
    return `(${turns} - floor(${turns}))`;
  }
  const ts = `CAST(${name} AS TIMESTAMP)`;
  const micros = `epoch_us(${ts})`;
  // Floor modulo: correct before 1970 too.
  const microsOfDay = `(((${micros} % ${MICROS_PER_DAY}) + ${MICROS_PER_DAY}) % ${MICROS_PER_DAY})`;
  switch (feature.cycle.unit) {
    case 'hourOfDay':
      return `(${microsOfDay} // 1000000)`;
    case 'dayOfWeek': {
      // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays, as ISO counts.
      const day = `((${micros} - ${microsOfDay}) // ${MICROS_PER_DAY})`;
      return `((((${day} + 3) % 7) + 7) % 7)`;
    }
    case 'dayOfYear':
      return `(dayofyear(${ts}) - 1)`;
    case 'monthOfYear':
      return `(month(${ts}) - 1)`;
  }
}

const tables = new Map<TimeUnit, { sin: Float32Array; cos: Float32Array }>();

function unitTables(unit: TimeUnit): { sin: Float32Array; cos: Float32Array } {
  let table = tables.get(unit);
  if (table === undefined) {
    const { positions, turn } = UNIT_CYCLES[unit];
    table = { sin: new Float32Array(positions), cos: new Float32Array(positions) };
    for (let position = 0; position < positions; position++) {
      const angle = (2 * Math.PI * position) / turn;
      table.sin[position] = Math.sin(angle);
      table.cos[position] = Math.cos(angle);
    }
    tables.set(unit, table);
  }
  return table;
}

/** How output slot values come from the SQL vector: copied, looked up, or computed from a fraction. */
const COPY = 0;
const LOOKUP = 1;
const SIN = 2;
const COS = 3;

/**
 * From the `sqlWidth` floats DuckDB returns per row to the `slots` floats of the feature
 * vector. `identity` when no feature is cyclic: then the rows are copied as they come.
 */
export interface VectorLayout {
  sqlWidth: number;
  slots: number;
  identity: boolean;
  operation: Uint8Array;
  source: Int32Array;
  lookup: (Float32Array | undefined)[];
}

export function vectorLayout(features: readonly FittedFeature[]): VectorLayout {
  const operation: number[] = [];
  const source: number[] = [];
  const lookup: (Float32Array | undefined)[] = [];
  let column = 0;
  for (const feature of features) {
    if (feature.kind !== 'cyclic') {
      operation.push(COPY);
      source.push(column);
      lookup.push(undefined);
    } else if ('unit' in feature.cycle) {
      const table = unitTables(feature.cycle.unit);
      operation.push(LOOKUP, LOOKUP);
      source.push(column, column);
      lookup.push(table.sin, table.cos);
    } else {
      operation.push(SIN, COS);
      source.push(column, column);
      lookup.push(undefined, undefined);
    }
    column++;
  }
  return {
    sqlWidth: column,
    slots: operation.length,
    identity: operation.length === column,
    operation: Uint8Array.from(operation),
    source: Int32Array.from(source),
    lookup,
  };
}

/** Writes `rows` expanded rows of `from` (row-major, `sqlWidth` wide) into `to` at row `at`. */
export function expandRows(
  layout: VectorLayout,
  from: Float32Array,
  rows: number,
  to: Float32Array,
  at: number,
): void {
  const { sqlWidth, slots, operation, source, lookup } = layout;
  for (let row = 0; row < rows; row++) {
    const input = row * sqlWidth;
    const output = (at + row) * slots;
    for (let slot = 0; slot < slots; slot++) {
      const value = from[input + (source[slot] as number)] as number;
      switch (operation[slot]) {
        case COPY:
          to[output + slot] = value;
          break;
        case LOOKUP:
          to[output + slot] = (lookup[slot] as Float32Array)[value] as number;
          break;
        case SIN:
          to[output + slot] = Math.sin(2 * Math.PI * value);
          break;
        default:
          to[output + slot] = Math.cos(2 * Math.PI * value);
      }
    }
  }
}

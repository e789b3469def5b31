import { sqlIdentifier, sqlNumber } from '../duckdb.ts';
import type { FittedCyclic } from './fitted.ts';
import type { TimeUnit } from './spec.ts';

/**
 * The calendar arithmetic of cyclic features, done in JS on each chunk (see `vector.ts`). A
 * timestamp column leaves DuckDB once, as epoch microseconds in a DOUBLE, however many cyclic
 * features use it; JS splits it into days and seconds of the day, turns days into positions
 * (arithmetic, cached for runs of rows on the same day) and positions into sin and cos by
 * table lookup. A numeric column with a period leaves as the fraction of its period, and goes
 * through `Math.sin`/`Math.cos`. Earlier, the six trigonometric calls in SQL had cost 230 ms
 * more per 966k flights than the table lookups, and the floor-modulo arithmetic in SQL 24 ms
 * of DuckDB's CPU more than the one DOUBLE.
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
 * SQL for a timestamp column as microseconds from the epoch (UTC), in a DOUBLE: exact for
 * 1685 to 2255 (below 2^53); further out, sub-second parts round by at most 2 ms, which can
 * move a time within 2 ms of a whole second to that second.
 */
export function timestampMicrosSql(column: string): string {
  return `CAST(epoch_us(CAST(${sqlIdentifier(column)} AS TIMESTAMP)) AS DOUBLE)`;
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
export function unitTable(unit: TimeUnit): Float32Array {
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

/**
 * Whole days from 1970-01-01 (floored, so negative before it) and the second of the day of
 * `rows` epoch microseconds. `day * MICROS_PER_DAY` is exact below 2^53, so the remainder is
 * too, and corrects a quotient that rounded to the next integer.
 */
export function splitMicros(micros: Float64Array, rows: number, days: Int32Array, seconds: Int32Array): void {
  for (let row = 0; row < rows; row++) {
    const value = micros[row] as number;
    let day = Math.floor(value / MICROS_PER_DAY);
    let rest = value - day * MICROS_PER_DAY;
    if (rest < 0) {
      day -= 1;
      rest += MICROS_PER_DAY;
    } else if (rest >= MICROS_PER_DAY) {
      day += 1;
      rest -= MICROS_PER_DAY;
    }
    days[row] = day;
    seconds[row] = Math.floor(rest / 1_000_000);
  }
}

/** Position of a day (from 1970-01-01) in a unit's cycle; not for `hourOfDay`, which counts seconds. */
export function dayPosition(unit: Exclude<TimeUnit, 'hourOfDay'>, day: number): number {
  // 1970-01-01 was a Thursday: 0 is Monday, as ISO counts.
  if (unit === 'dayOfWeek') return (((day + 3) % 7) + 7) % 7;
  const calendar = calendarPositions(day);
  return unit === 'dayOfYear' ? calendar.dayOfYear : calendar.month;
}

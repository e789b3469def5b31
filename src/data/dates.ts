import { UsageError } from '../errors.ts';

/** A calendar day as `YYYY-MM-DD`: the unit of partitioning. */
export type Day = string;

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** Parses `YYYY-MM-DD`, refusing impossible dates such as 2001-02-30; `what` names the input. */
export function parseDay(value: string, what: string): Day {
  const match = DAY_PATTERN.exec(value);
  const time = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN;
  if (!match || Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== value) {
    throw new UsageError(`${what}: expected a date as YYYY-MM-DD, got '${value}'`);
  }
  return value;
}

export function isDay(value: string): boolean {
  const match = DAY_PATTERN.exec(value);
  if (!match) return false;
  const time = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return new Date(time).toISOString().slice(0, 10) === value;
}

export function addDays(day: Day, count: number): Day {
  return new Date(Date.parse(`${day}T00:00:00Z`) + count * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Every day from `from` to `to`, both included. */
export function daysBetween(from: Day, to: Day): Day[] {
  const days: Day[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day);
  return days;
}

/** Milliseconds since the epoch of a day's midnight, UTC. */
export function dayStartMs(day: Day): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** Consecutive days as ranges: ['2001-01-01..2001-01-03', '2001-01-05']. */
export function dayRanges(days: readonly Day[]): string[] {
  const sorted = [...new Set(days)].sort();
  const ranges: string[] = [];
  let start: string | undefined;
  let end: string | undefined;
  for (const day of sorted) {
    if (start !== undefined && end !== undefined && addDays(end, 1) === day) {
      end = day;
      continue;
    }
    if (start !== undefined) ranges.push(start === end ? start : `${start}..${end}`);
    start = day;
    end = day;
  }
  if (start !== undefined) ranges.push(start === end ? start : `${start}..${end}`);
  return ranges;
}

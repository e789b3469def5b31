import { DateTime } from 'luxon';
import { UsageError } from '../errors.ts';
import { nextFireTime } from './cron.ts';
import { isIsoDate } from './define.ts';
import type { Dag, DataInterval } from './types.ts';

/** `YYYY-MM-DD` as midnight in `timezone`. Throws a UsageError naming the value otherwise. */
export function parseLogicalDate(value: string, timezone: string): Date {
  if (!isIsoDate(value)) {
    throw new UsageError(`invalid date '${value}': expected a calendar date as YYYY-MM-DD`);
  }
  return DateTime.fromISO(value, { zone: timezone }).toJSDate();
}

/** The logical date as `YYYY-MM-DD` in the DAG's time zone. */
export function formatLogicalDate(date: Date, timezone: string): string {
  return DateTime.fromJSDate(date, { zone: timezone }).toISODate() ?? date.toISOString().slice(0, 10);
}

/**
 * The run for calendar date `day` (`YYYY-MM-DD`): its logical date and data interval.
 * - Without a schedule: the calendar day in the DAG's time zone (23 or 25 hours across a
 *   daylight-saving change).
 * - With a schedule: the interval that starts at the schedule's first fire time on that day,
 *   up to the next fire time (`0 2 * * *` on 2001-01-15 gives [01-15 02:00, 01-16 02:00)).
 *   A day on which the schedule does not fire is refused, naming the nearest one.
 */
export function runForDay(dag: Pick<Dag, 'id' | 'schedule' | 'timezone'>, day: string): DataInterval {
  const midnight = parseLogicalDate(day, dag.timezone);
  if (!dag.schedule) return dataIntervalFor(dag, midnight);
  const start = nextFireTime(dag.schedule, dag.timezone, new Date(midnight.getTime() - 1));
  if (formatLogicalDate(start, dag.timezone) !== day) {
    throw new UsageError(
      `DAG '${dag.id}' (schedule '${dag.schedule}') has no run on ${day}: the next scheduled date is ${formatLogicalDate(start, dag.timezone)}`,
    );
  }
  return dataIntervalFor(dag, start);
}

/** The data interval of the run whose logical date is `logicalDate`. */
export function dataIntervalFor(dag: Pick<Dag, 'schedule' | 'timezone'>, logicalDate: Date): DataInterval {
  const end = dag.schedule
    ? nextFireTime(dag.schedule, dag.timezone, logicalDate)
    : DateTime.fromJSDate(logicalDate, { zone: dag.timezone }).plus({ days: 1 }).toJSDate();
  return { start: logicalDate, end };
}

// Pure scheduling logic: which data intervals of a DAG's schedule are due, and which runs the
// scheduler should create now. No I/O; "now" and the existing runs are arguments.
//
// Data-interval semantics (as in Airflow): the schedule's fire times cut time into intervals
// [start, end); the run for an interval is due at its `end`, and its logical date is `start`.
//
// Every fire time comes from cron-parser's `next()` with the DAG's time zone. Its `prev()` is
// not consistent with `next()` across daylight-saving changes (cron-parser 5.10.6, seen here):
// for '0 2 * * *' in Europe/Paris, `next()` fires at 03:00 CEST on 2001-03-25 (02:00 does not
// exist) and once at 02:00 CEST on 2001-10-28, while `prev()` skips 2001-03-25 and returns
// both 02:00s of 2001-10-28. So `prev()` is only used to find a point at or before the answer;
// the answer itself is always reached by walking `next()`.
import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import type { DataInterval } from '../dag/types.ts';

export interface ScheduleSpec {
  /** Cron expression (5 fields or a preset). */
  schedule: string;
  /** IANA time zone the schedule is read in. */
  timezone: string;
  /** First calendar date (YYYY-MM-DD, in `timezone`) whose intervals may run. */
  startDate?: string | undefined;
  /** Create every missed interval (true) or only the latest (false). */
  catchup: boolean;
  /** Runs of the DAG allowed at once. */
  maxActiveRuns: number;
}

/** The first fire time strictly after `after`. */
export function fireTimeAfter(schedule: string, timezone: string, after: Date): Date {
  return CronExpressionParser.parse(schedule, { tz: timezone, currentDate: after }).next().toDate();
}

/** The latest fire time at or before `at` (the fire times are those `next()` produces). */
export function latestFireTimeAtOrBefore(schedule: string, timezone: string, at: Date): Date {
  const expression = CronExpressionParser.parse(schedule, {
    tz: timezone,
    currentDate: new Date(at.getTime() + 1),
  });
  // Step back two fire times with prev(), then more until next() lands at or before `at`: prev()
  // may return a time next() never produces (a repeated hour), so one step is not enough.
  let anchor = expression.prev().toDate();
  for (let step = 0; ; step++) {
    anchor = expression.prev().toDate();
    const first = fireTimeAfter(schedule, timezone, new Date(anchor.getTime() - 1));
    if (first.getTime() <= at.getTime() || step > 8) break;
  }
  let latest = fireTimeAfter(schedule, timezone, new Date(anchor.getTime() - 1));
  for (;;) {
    const next = fireTimeAfter(schedule, timezone, latest);
    if (next.getTime() > at.getTime()) return latest;
    latest = next;
  }
}

/** Midnight at the start of `day` (YYYY-MM-DD) in `timezone`. */
export function startOfDay(day: string, timezone: string): Date {
  const start = DateTime.fromISO(day, { zone: timezone }).startOf('day');
  if (!start.isValid) throw new Error(`invalid date '${day}': expected YYYY-MM-DD`);
  return start.toJSDate();
}

/** The first interval whose start is at or after the start of `day` in `timezone`. */
export function firstIntervalOnOrAfter(schedule: string, timezone: string, day: string): DataInterval {
  const start = fireTimeAfter(schedule, timezone, new Date(startOfDay(day, timezone).getTime() - 1));
  return { start, end: fireTimeAfter(schedule, timezone, start) };
}

/**
 * The intervals whose start lies in [from, to) (instants), in order. Lazy, so that a
 * minutely schedule over years costs only what the caller takes.
 */
export function* intervalsStartingBetween(
  schedule: string,
  timezone: string,
  from: Date,
  to: Date,
): Generator<DataInterval> {
  let start = fireTimeAfter(schedule, timezone, new Date(from.getTime() - 1));
  while (start.getTime() < to.getTime()) {
    const end = fireTimeAfter(schedule, timezone, start);
    yield { start, end };
    start = end;
  }
}

/**
 * The logical dates of a backfill: every interval starting on a calendar day in
 * [fromDay, toDay] (both inclusive, YYYY-MM-DD in the DAG's time zone), in order.
 */
export function backfillIntervals(
  schedule: string,
  timezone: string,
  fromDay: string,
  toDay: string,
): DataInterval[] {
  const from = startOfDay(fromDay, timezone);
  const to = DateTime.fromJSDate(startOfDay(toDay, timezone), { zone: timezone })
    .plus({ days: 1 })
    .startOf('day')
    .toJSDate();
  return [...intervalsStartingBetween(schedule, timezone, from, to)];
}

/** The latest interval that is due (its end at or before `now`). */
export function latestDueInterval(schedule: string, timezone: string, now: Date): DataInterval {
  const end = latestFireTimeAtOrBefore(schedule, timezone, now);
  const start = latestFireTimeAtOrBefore(schedule, timezone, new Date(end.getTime() - 1));
  return { start, end };
}

/**
 * The due intervals after the last scheduled run (or from `startDate`), in order:
 * - catch-up: every interval from there whose end is at or before `now`;
 * - no catch-up: only the latest due interval, when it is after the last scheduled run and
 *   not before `startDate`.
 * Without `startDate` and without a last run, only the latest due interval is due.
 * Lazy: the caller takes what fits within `maxActiveRuns`.
 */
export function* dueIntervals(
  spec: Pick<ScheduleSpec, 'schedule' | 'timezone' | 'startDate' | 'catchup'>,
  state: { lastScheduledLogicalDate: Date | undefined; now: Date },
): Generator<DataInterval> {
  const { schedule, timezone } = spec;
  const { lastScheduledLogicalDate: last, now } = state;
  const earliest = spec.startDate ? startOfDay(spec.startDate, timezone) : undefined;
  const latest = latestDueInterval(schedule, timezone, now);
  const afterLast = (interval: DataInterval) => !last || interval.start.getTime() > last.getTime();
  const notBeforeStart = (interval: DataInterval) =>
    !earliest || interval.start.getTime() >= earliest.getTime();
  if (!spec.catchup || (!last && !earliest)) {
    if (afterLast(latest) && notBeforeStart(latest)) yield latest;
    return;
  }
  const from = last ? new Date(last.getTime() + 1) : (earliest as Date);
  for (const interval of intervalsStartingBetween(schedule, timezone, from, new Date(now.getTime() + 1))) {
    if (interval.end.getTime() > now.getTime()) return;
    if (notBeforeStart(interval)) yield interval;
  }
}

export interface PlanInput {
  /** Logical date of the latest run the scheduler created (run_type 'scheduled'). */
  lastScheduledLogicalDate: Date | undefined;
  now: Date;
  /** Runs of the DAG now queued or running (any type). */
  activeRuns: number;
  /** True when a run (of any type) exists for this logical date: it is skipped, not re-created. */
  runExists: (logicalDate: Date) => boolean;
}

/**
 * The runs to create now: the due intervals without a run, in order, at most as many as keep
 * the active runs within `maxActiveRuns`.
 */
export function planScheduledRuns(spec: ScheduleSpec, input: PlanInput): DataInterval[] {
  const slots = Math.max(0, spec.maxActiveRuns - input.activeRuns);
  const planned: DataInterval[] = [];
  if (slots === 0) return planned;
  for (const interval of dueIntervals(spec, input)) {
    if (input.runExists(interval.start)) continue;
    planned.push(interval);
    if (planned.length >= slots) break;
  }
  return planned;
}

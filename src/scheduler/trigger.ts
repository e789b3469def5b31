import { DateTime } from 'luxon';
import { type DagRun, dataIntervalFor, runForDay } from '../dag/index.ts';
import { createOrGetRun } from '../dag/sql/createRun.ts';
import type { Dag, DataInterval, JsonObject } from '../dag/types.ts';
import type { Store } from '../store/index.ts';
import { latestDueInterval } from './intervals.ts';

/**
 * The run a trigger without a date is for: a scheduled DAG's latest complete interval (the one
 * the scheduler would create next without catch-up), else today in the DAG's time zone.
 */
export function defaultTriggerInterval(dag: Dag, now: Date): DataInterval {
  if (dag.schedule) return latestDueInterval(dag.schedule, dag.timezone, now);
  const today = DateTime.fromJSDate(now, { zone: dag.timezone }).toISODate() as string;
  return runForDay(dag, today);
}

export interface TriggerInput {
  /** YYYY-MM-DD in the DAG's time zone (a day on which the schedule fires); default as above. */
  date?: string | undefined;
  conf?: JsonObject | undefined;
  now?: Date;
}

/**
 * Creates a queued manual run without executing it (the scheduler or a worker does), or finds
 * the existing run for that logical date: `created` is false then, and nothing was written.
 * Throws a UsageError for a date on which the DAG's schedule does not fire.
 */
export async function triggerRun(
  store: Store,
  dag: Dag,
  input: TriggerInput = {},
): Promise<{ run: DagRun; created: boolean }> {
  const interval =
    input.date === undefined
      ? defaultTriggerInterval(dag, input.now ?? new Date())
      : runForDay(dag, input.date);
  return createOrGetRun(store, {
    dag,
    logicalDate: interval.start,
    interval: dataIntervalFor(dag, interval.start),
    conf: input.conf ?? {},
    runType: 'manual',
  });
}

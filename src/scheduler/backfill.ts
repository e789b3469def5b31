import { DateTime } from 'luxon';
import type { NightshiftConfig } from '../config.ts';
import { clearTaskInstances, dataIntervalFor, formatLogicalDate, isIsoDate, runDag } from '../dag/index.ts';
import { getRunByDate } from '../dag/sql/createRun.ts';
import type { Dag, DataInterval, RunState } from '../dag/types.ts';
import { errorMessage, UsageError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { backfillIntervals, startOfDay } from './intervals.ts';

export const REPROCESS_MODES = ['none', 'failed', 'completed'] as const;
/**
 * What a backfill does with a date that already has a run:
 * - none: leaves it alone;
 * - failed: a failed run has its failed tasks cleared and runs again;
 * - completed: a finished run (success or failed) has every task cleared and runs again.
 * A queued or running run is left to whoever runs it, whatever the mode.
 */
export type ReprocessMode = (typeof REPROCESS_MODES)[number];

export interface BackfillDate {
  logicalDate: string;
  dataInterval: { start: string; end: string };
}

export interface BackfillOutcome extends BackfillDate {
  runId: number | null;
  action: 'created' | 'reprocessed' | 'skipped';
  /** Why a date was skipped. */
  reason?: string;
  state: RunState | null;
  error?: string;
}

/**
 * The runs of a backfill: each interval of the DAG's schedule starting on a calendar day in
 * [from, to] (YYYY-MM-DD, both inclusive, in the DAG's time zone), in order. A DAG without a
 * schedule has one run per calendar day.
 */
export function backfillDates(dag: Dag, from: string, to: string): DataInterval[] {
  for (const [flag, value] of [
    ['--from', from],
    ['--to', to],
  ] as const) {
    if (!isIsoDate(value))
      throw new UsageError(`invalid ${flag} '${value}': expected a calendar date as YYYY-MM-DD`);
  }
  if (to < from) throw new UsageError(`--to ${to} is before --from ${from}`);
  if (dag.schedule) return backfillIntervals(dag.schedule, dag.timezone, from, to);
  const days: DataInterval[] = [];
  let day = DateTime.fromJSDate(startOfDay(from, dag.timezone), { zone: dag.timezone });
  while ((day.toISODate() as string) <= to) {
    days.push(dataIntervalFor(dag, day.toJSDate()));
    day = day.plus({ days: 1 }).startOf('day');
  }
  return days;
}

export function describeBackfillDate(dag: Dag, interval: DataInterval): BackfillDate {
  return {
    logicalDate: formatLogicalDate(interval.start, dag.timezone),
    dataInterval: { start: interval.start.toISOString(), end: interval.end.toISOString() },
  };
}

export interface BackfillOptions {
  store: Store;
  config: NightshiftConfig;
  dag: Dag;
  from: string;
  to: string;
  reprocess?: ReprocessMode;
  /** Runs executing at once (default: the DAG's maxActiveRuns). */
  maxActive?: number;
  /** Task attempts at once per run. */
  concurrency?: number;
  signal?: AbortSignal;
  onOutcome?: (outcome: BackfillOutcome) => void;
}

/**
 * Creates the backfill's runs (run_type 'backfill') and executes them in logical-date order,
 * up to `maxActive` at once, each created just before it starts (so a scheduler does not take
 * them from under it). Returns one outcome per date, in order.
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillOutcome[]> {
  const { store, dag } = options;
  const intervals = backfillDates(dag, options.from, options.to);
  const reprocess = options.reprocess ?? 'none';
  const maxActive = options.maxActive ?? dag.maxActiveRuns;
  const outcomes: BackfillOutcome[] = new Array(intervals.length);
  let next = 0;

  const processDate = async (index: number): Promise<BackfillOutcome> => {
    const interval = intervals[index] as DataInterval;
    const base = describeBackfillDate(dag, interval);
    const existing = await getRunByDate(store, dag.id, interval.start);
    let action: BackfillOutcome['action'] = 'created';
    if (existing) {
      const skip = (reason: string): BackfillOutcome => ({
        ...base,
        runId: existing.id,
        action: 'skipped',
        reason,
        state: existing.state,
      });
      if (existing.state === 'queued' || existing.state === 'running')
        return skip(`run is ${existing.state}`);
      if (reprocess === 'none') return skip(`run exists (${existing.state})`);
      if (reprocess === 'failed' && existing.state !== 'failed') return skip(`run ${existing.state}`);
      await clearTaskInstances(
        store,
        existing.id,
        reprocess === 'failed' ? { onlyStates: ['failed', 'upstream_failed'] } : {},
      );
      action = 'reprocessed';
    }
    try {
      // Creates the run (run_type 'backfill') or resumes the one just cleared.
      const result = await runDag({
        store,
        config: options.config,
        dag,
        logicalDate: interval.start,
        runType: 'backfill',
        concurrency: options.concurrency,
        signal: options.signal,
      });
      return { ...base, runId: result.run.id, action, state: result.state };
    } catch (error) {
      const run = await getRunByDate(store, dag.id, interval.start);
      return { ...base, runId: run?.id ?? null, action, state: 'failed', error: errorMessage(error) };
    }
  };

  const lane = async (): Promise<void> => {
    while (next < intervals.length && !options.signal?.aborted) {
      const index = next++;
      const outcome = await processDate(index);
      outcomes[index] = outcome;
      options.onOutcome?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(maxActive, intervals.length) }, lane));
  return outcomes.filter((outcome) => outcome !== undefined);
}

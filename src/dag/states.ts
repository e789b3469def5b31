import type { ResolvedTask, RunState, TaskState, TriggerRule } from './types.ts';

/**
 * Pure state logic: what a scheduled task becomes given its upstream states, how long to wait
 * before a retry, and what a run's leaves say about the run. No I/O here, so it is tested
 * without a database.
 */

/** The next state of a `scheduled` task, or undefined while it must keep waiting. */
export function decideReadiness(
  rule: TriggerRule,
  upstream: readonly TaskState[],
): 'queued' | 'upstream_failed' | 'skipped' | undefined {
  const failed = upstream.some((state) => state === 'failed' || state === 'upstream_failed');
  const finished = upstream.every(
    (state) =>
      state === 'success' || state === 'failed' || state === 'upstream_failed' || state === 'skipped',
  );
  switch (rule) {
    case 'all_done':
      return finished ? 'queued' : undefined;
    case 'none_failed':
      if (failed) return 'upstream_failed';
      return finished ? 'queued' : undefined;
    case 'all_success':
      if (failed) return 'upstream_failed';
      if (upstream.some((state) => state === 'skipped')) return 'skipped';
      return finished ? 'queued' : undefined;
  }
}

/** Delay before retry number `retry` (1 for the first retry). */
export function retryDelay(
  task: Pick<ResolvedTask, 'retryDelayMs' | 'retryBackoff' | 'maxRetryDelayMs'>,
  retry: number,
): number {
  const base =
    task.retryBackoff === 'exponential' ? task.retryDelayMs * 2 ** Math.max(0, retry - 1) : task.retryDelayMs;
  return Math.min(base, task.maxRetryDelayMs);
}

/**
 * After a failed attempt: retry while failures (attempts not ended by an expired lease) do not
 * exceed the retries allowed. Errors that say they are not retriable fail at once.
 */
export function shouldRetry(options: { failures: number; retries: number; retriable: boolean }): boolean {
  return options.retriable && options.failures <= options.retries;
}

/** A run is decided by its leaves: failed if any leaf failed, success when all are done. */
export function decideRunState(leafStates: readonly TaskState[], allFinished: boolean): RunState | undefined {
  if (!allFinished) return undefined;
  return leafStates.every((state) => state === 'success' || state === 'skipped') ? 'success' : 'failed';
}

export function isFinished(state: TaskState): boolean {
  return state === 'success' || state === 'failed' || state === 'upstream_failed' || state === 'skipped';
}

import type { NightshiftConfig } from '../config.ts';
import { type DagRun, formatLogicalDate, runDag } from '../dag/index.ts';
import { defaultLeaseMs } from '../dag/runner.ts';
import type { Dag, RunState } from '../dag/types.ts';
import { errorMessage } from '../errors.ts';
import { countLiveWorkers } from '../executor/workers.ts';
import { childLogger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';
import { type ScheduledRun, scheduleDueRuns } from './scheduleDag.ts';
import { lockDagForScheduling } from './sql/dagLock.ts';
import { adoptOrphanedRun, claimQueuedRun } from './sql/scheduledRuns.ts';

export interface SchedulerOptions {
  store: Store;
  config: NightshiftConfig;
  dags: readonly Dag[];
  /** "Now" for scheduling decisions (default: the system clock). */
  clock?: Clock;
  /**
   * Execute queued runs in this process: `auto` (the default) does unless live workers
   * (`nightshift worker`) can execute the DAG, in which case it leaves the runs to them; `true`
   * always does (alongside any workers: leases keep each task with one holder); `false` only
   * creates runs.
   */
  execute?: boolean | 'auto';
  /** Time between two scheduling passes (default 5 s). */
  pollMs?: number;
  /**
   * One pass, then return: create the due runs and (when executing) run queued runs until none
   * is left, creating the next due ones as slots free up. Deterministic for tests and cron jobs.
   */
  once?: boolean;
  /** Task attempts at once per executing run (runDag's concurrency). */
  concurrency?: number;
  /**
   * A running run with no live lease and no change for this long is taken as orphaned (its
   * executor died) and executed here (default: the lease length).
   */
  orphanAfterMs?: number;
  /** Stops the loop; executing runs hand their tasks back and the call returns. */
  signal?: AbortSignal;
  onScheduled?: (run: ScheduledRun) => void;
  onFinished?: (run: FinishedRun) => void;
}

export interface FinishedRun {
  dagId: string;
  runId: number;
  logicalDate: string;
  state: RunState;
  error?: string;
}

export interface SchedulerReport {
  scheduled: ScheduledRun[];
  finished: FinishedRun[];
}

/**
 * The scheduler loop: every pass creates each scheduled DAG's due runs, then (unless told only
 * to schedule, or workers are there to do it) takes queued runs, of any type, within each DAG's
 * `maxActiveRuns`, and executes them in this process with runDag. Runs are taken with `FOR UPDATE SKIP LOCKED`, so several
 * schedulers share the work; task leases keep each task with one holder anyway.
 */
export async function runScheduler(options: SchedulerOptions): Promise<SchedulerReport> {
  const { store, dags } = options;
  const clock = options.clock ?? (() => new Date());
  const execute = options.execute ?? 'auto';
  const pollMs = options.pollMs ?? 5_000;
  // A run idle for longer than a lease (no live lease, no change) has lost its executor.
  const orphanAfterMs = options.orphanAfterMs ?? defaultLeaseMs();
  const log = childLogger({ component: 'scheduler' });
  const report: SchedulerReport = { scheduled: [], finished: [] };
  const executing = new Map<number, Promise<void>>();
  const stopRuns = new AbortController();
  const onAbort = () => stopRuns.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let wake: () => void = () => {};

  const schedulePass = async (): Promise<number> => {
    let count = 0;
    for (const dag of dags) {
      if (!dag.schedule) continue;
      try {
        for (const run of await scheduleDueRuns(store, dag, clock())) {
          count++;
          report.scheduled.push(run);
          log.info({ dag: run.dagId, run: run.runId, logicalDate: run.logicalDate }, 'run scheduled');
          options.onScheduled?.(run);
        }
      } catch (error) {
        log.error({ dag: dag.id, err: error }, `scheduling failed: ${errorMessage(error)}`);
      }
    }
    return count;
  };

  const executeRun = async (dag: Dag, run: DagRun): Promise<void> => {
    const logicalDate = formatLogicalDate(run.logicalDate, dag.timezone);
    let finished: FinishedRun;
    try {
      const result = await runDag({
        store,
        config: options.config,
        dag,
        logicalDate: run.logicalDate,
        concurrency: options.concurrency,
        signal: stopRuns.signal,
      });
      finished = { dagId: dag.id, runId: run.id, logicalDate, state: result.state };
    } catch (error) {
      log.error({ dag: dag.id, run: run.id, err: error }, `run execution failed: ${errorMessage(error)}`);
      finished = { dagId: dag.id, runId: run.id, logicalDate, state: 'failed', error: errorMessage(error) };
    }
    if (stopRuns.signal.aborted && finished.state === 'running') return;
    report.finished.push(finished);
    options.onFinished?.(finished);
  };

  const startQueuedRuns = async (): Promise<number> => {
    let count = 0;
    for (const dag of dags) {
      if (execute === 'auto') {
        try {
          if ((await countLiveWorkers(store, dag.id)) > 0) continue;
        } catch (error) {
          log.error({ dag: dag.id, err: error }, `looking for workers failed: ${errorMessage(error)}`);
          continue;
        }
      }
      for (;;) {
        if (stopRuns.signal.aborted) return count;
        let run: DagRun | undefined;
        try {
          run = await store.transaction(async (tx) => {
            await lockDagForScheduling(tx, dag.id);
            return (
              (await claimQueuedRun(tx, dag.id, dag.maxActiveRuns)) ??
              // A run left running by a process that died (no worker would take it over here).
              (await adoptOrphanedRun(tx, dag.id, orphanAfterMs, [...executing.keys()]))
            );
          });
        } catch (error) {
          log.error({ dag: dag.id, err: error }, `taking a queued run failed: ${errorMessage(error)}`);
        }
        if (!run) break;
        count++;
        const claimed = run;
        const done = executeRun(dag, claimed).finally(() => {
          executing.delete(claimed.id);
          wake();
        });
        executing.set(claimed.id, done);
      }
    }
    return count;
  };

  try {
    while (!options.signal?.aborted) {
      const scheduled = await schedulePass();
      const started = execute !== false ? await startQueuedRuns() : 0;
      if (options.once) {
        if (scheduled === 0 && started === 0 && executing.size === 0) break;
        if (executing.size > 0) await Promise.race(executing.values());
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, pollMs);
        wake = done;
        options.signal?.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    stopRuns.abort();
    await Promise.allSettled(executing.values());
    options.signal?.removeEventListener('abort', onAbort);
  }
  return report;
}

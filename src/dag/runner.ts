import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import type { NightshiftConfig } from '../config.ts';
import { UsageError } from '../errors.ts';
import { childLogger } from '../log.ts';
import { type Store, withTransientRetry } from '../store/index.ts';
import { WorkClaimer } from './claimer.ts';
import { executeTaskInstance } from './execute.ts';
import { dataIntervalFor } from './interval.ts';
import { sleepUntilWoken, stopping } from './loop.ts';
import { sameJson } from './sameJson.ts';
import { clearTaskInstances } from './sql/clearTaskInstances.ts';
import { CompletionBatcher } from './sql/completeTaskInstance.ts';
import { createOrGetRun, skipRemovedTasks } from './sql/createRun.ts';
import type { DagRun } from './sql/rows.ts';
import { finishRunIfDone, getRun, getRunProgress, startRun } from './sql/runQueries.ts';
import { settleTaskInstances } from './sql/settleTaskInstances.ts';
import type { Dag, JsonObject, RunState } from './types.ts';

export interface RunDagOptions {
  store: Store;
  config: NightshiftConfig;
  dag: Dag;
  logicalDate: Date;
  /** The run's conf; for an existing run it must equal the stored one (or be omitted). */
  conf?: JsonObject;
  runType?: DagRun['runType'];
  /** Task attempts at once in this process (default 8). */
  concurrency?: number;
  /** Lease length; heartbeats renew it three times per lease (default 30 s, `NIGHTSHIFT_LEASE_MS`). */
  leaseMs?: number;
  /**
   * Slots per pool for this process alone. The `pools` table's slots hold across every process;
   * a pool in neither is not capped.
   */
  pools?: Readonly<Record<string, number>>;
  /** Aborting hands running attempts back (not counted as failures) and returns. */
  signal?: AbortSignal;
  /** Longest sleep while waiting on other holders' leases or retry delays (default 1 s). */
  maxPollMs?: number;
}

export interface RunDagResult {
  run: DagRun;
  state: RunState;
  /** False when the run already existed (a resume). */
  created: boolean;
  /** Task attempts this call executed, by task id. */
  executed: Record<string, number>;
}

export function defaultLeaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.NIGHTSHIFT_LEASE_MS ?? 30_000);
  return Number.isFinite(value) && value >= 100 ? value : 30_000;
}

export function ownerId(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * Runs a DAG for one logical date in this process, to the end: creates the run (or resumes the
 * existing one), then claims and executes task instances under leases until every task has
 * finished. Succeeded tasks of an earlier attempt at the run are not run again; a failed run's
 * failed tasks are cleared and run again. Other processes may work on the same run at the same
 * time: leases and fencing tokens keep each attempt with one holder.
 */
export async function runDag(options: RunDagOptions): Promise<RunDagResult> {
  const { store, dag } = options;
  const concurrency = options.concurrency ?? 8;
  const leaseMs = options.leaseMs ?? defaultLeaseMs();
  const owner = ownerId();
  const interval = dataIntervalFor(dag, options.logicalDate);
  const poolSlots = await loadPoolSlots(store, options.pools);
  for (const task of dag.tasks) {
    if (task.pool !== undefined && poolSlots.get(task.pool) === 0) {
      throw new UsageError(
        `task '${task.id}' of ${dag.id} uses pool '${task.pool}', which has 0 slots: it could never run; give the pool slots first`,
      );
    }
  }
  const { run, created } = await createOrGetRun(store, {
    dag,
    logicalDate: options.logicalDate,
    interval,
    conf: options.conf ?? {},
    runType: options.runType ?? 'manual',
  });
  if (!created && options.conf !== undefined && !sameJson(options.conf, run.conf)) {
    throw new UsageError(
      `run ${run.id} of ${dag.id} for this date exists with conf ${JSON.stringify(run.conf)}, not ${JSON.stringify(options.conf)}: rerun without --conf to resume it`,
    );
  }
  const log = childLogger({ dag: dag.id, run: run.id });
  const executed: Record<string, number> = {};
  if (run.state === 'success') {
    log.info('run already succeeded; nothing to do (clear tasks to run them again)');
    return { run, state: 'success', created, executed };
  }
  // Anything short of success is resumed: failed tasks of the DAG as it is now run again (also
  // when a crash left the run open after a task failed for good).
  const { cleared } = await clearTaskInstances(store, run.id, {
    taskIds: dag.tasks.map((task) => task.id),
    onlyStates: ['failed', 'upstream_failed'],
  });
  if (cleared.length > 0) log.info({ cleared }, 'resuming: failed tasks run again');
  const removed = await skipRemovedTasks(store, run.id, dag);
  if (removed.length > 0) log.warn({ removed }, 'tasks no longer in the DAG are skipped');
  await startRun(store, run.id);
  log.info({ created, logicalDate: run.logicalDate.toISOString() }, created ? 'run created' : 'run resumed');

  const batcher = new CompletionBatcher(store);
  const claimer = new WorkClaimer({
    store,
    scope: { runId: run.id },
    owner,
    leaseMs,
    localSlots: options.pools,
  });
  // Keyed by lease token: if this process stalled past its own lease and claimed the same task
  // again, the two attempts stay apart.
  const active = new Map<number, { pool: string | null; done: Promise<void> }>();
  const shutdown = new AbortController();
  // Every running attempt listens for shutdown: as many listeners as the concurrency.
  setMaxListeners(0, shutdown.signal);
  const onAbort = () => shutdown.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let wake: () => void = () => {};
  let failure: unknown;

  try {
    await settleTaskInstances(store, dag, run.id);
    for (;;) {
      if (await stopping(failure, shutdown, active)) break;
      const free = concurrency - active.size;
      if (free > 0) {
        const claims = await withTransientRetry(() => claimer.claim(free, active.values()));
        for (const claim of claims) {
          const done = executeTaskInstance({
            store,
            config: options.config,
            dag,
            run,
            claim,
            leaseMs,
            shutdown: shutdown.signal,
            batcher,
          })
            .then(() => {
              executed[claim.taskId] = (executed[claim.taskId] ?? 0) + 1;
            })
            .catch((error: unknown) => {
              failure ??= error;
            })
            .finally(() => {
              active.delete(claim.leaseToken);
              wake();
            });
          active.set(claim.leaseToken, { pool: claim.pool, done });
        }
        if (claims.length === free && active.size < concurrency) continue;
      }
      if (active.size === 0) {
        const state = await finishRunIfDone(store, dag, run.id);
        if (state) {
          log.info({ state }, `run ${state}`);
          return { run: (await getRun(store, run.id)) ?? run, state, created, executed };
        }
        // A crash between a commit and its settle leaves tasks scheduled; settle them all.
        await settleTaskInstances(store, dag, run.id);
      }
      const maxPollMs = options.maxPollMs ?? 1_000;
      let waitMs = maxPollMs;
      if (active.size === 0) {
        // Nothing of ours is running: sleep until a retry is due or another holder's lease ends.
        const { nextWakeAt } = await getRunProgress(store, dag, run.id);
        if (nextWakeAt) waitMs = Math.max(5, Math.min(nextWakeAt.getTime() - Date.now() + 5, maxPollMs));
      }
      await sleepUntilWoken(waitMs, shutdown.signal, (done) => {
        wake = done;
      });
    }
    const current = (await getRun(store, run.id)) ?? run;
    return { run: current, state: current.state, created, executed };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

async function loadPoolSlots(
  store: Store,
  overrides: Readonly<Record<string, number>> = {},
): Promise<Map<string, number>> {
  const { rows } = await store.query<{ name: string; slots: number }>('SELECT name, slots FROM pools');
  const slots = new Map(rows.map((row) => [row.name, row.slots]));
  for (const [name, value] of Object.entries(overrides)) slots.set(name, value);
  return slots;
}

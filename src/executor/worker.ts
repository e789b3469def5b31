import { setMaxListeners } from 'node:events';
import type { NightshiftConfig } from '../config.ts';
import { WorkClaimer } from '../dag/claimer.ts';
import { executeTaskInstance } from '../dag/execute.ts';
import { sleepUntilWoken, stopping } from '../dag/loop.ts';
import { defaultLeaseMs, ownerId } from '../dag/runner.ts';
import { executeShard } from '../dag/shards.ts';
import { CompletionBatcher } from '../dag/sql/completeTaskInstance.ts';
import { WORK_CHANNEL } from '../dag/sql/notify.ts';
import { type DagRun, RUN_COLUMNS } from '../dag/sql/rows.ts';
import { finishRunIfDone } from '../dag/sql/runQueries.ts';
import { settleTaskInstances } from '../dag/sql/settleTaskInstances.ts';
import { claimShards } from '../dag/sql/shards.ts';
import type { Dag, RunState } from '../dag/types.ts';
import { errorMessage, UsageError } from '../errors.ts';
import { childLogger } from '../log.ts';
import { type Store, withTransientRetry } from '../store/index.ts';
import { startQueuedRuns } from './startRuns.ts';
import { deregisterWorker, heartbeatWorker, registerWorker } from './workers.ts';

export interface WorkerOptions {
  store: Store;
  config: NightshiftConfig;
  /** The DAGs this worker can execute: it claims work of their runs only. */
  dags: readonly Dag[];
  /** Task attempts at once (default 8). */
  concurrency?: number;
  /** Only tasks of these pools (`default` for tasks without a pool); every pool when omitted. */
  pools?: readonly string[];
  /** Lease length (default 30 s, `NIGHTSHIFT_LEASE_MS`). */
  leaseMs?: number;
  /** Longest wait between two looks for work when no notification comes (default 1 s). */
  maxPollMs?: number;
  /** Return once no run of its DAGs is queued or running (a drain), instead of at `signal`. */
  untilIdle?: boolean;
  /** Stops the worker: running attempts are handed back (not failed) and the call returns. */
  signal?: AbortSignal;
  onRunFinished?: (run: WorkerFinishedRun) => void;
}

export interface WorkerFinishedRun {
  runId: number;
  dagId: string;
  state: RunState;
}

export interface WorkerReport {
  workerId: string;
  /** Attempts this worker executed to an outcome, by DAG id and task id (`dag.task`). */
  executed: Record<string, number>;
  runsStarted: number[];
  runsFinished: WorkerFinishedRun[];
  /** Shards (of tasks running anywhere) this worker ran to an outcome. */
  shards: number;
}

const WORKER_HEARTBEAT_MS = 5_000;
/** How often an idle worker looks for runs that need settling or closing (a crash's leftovers). */
const SWEEP_MS = 2_000;

/**
 * A worker: claims task instances across the running runs of its DAGs (any process may have
 * started them: a scheduler, a trigger, `run`), executes them under leases, and moves runs
 * along: it starts queued runs within each DAG's `maxActiveRuns` and closes runs whose tasks
 * have all finished. Any number of workers, on any machines sharing the database, split the
 * work: claims use `FOR UPDATE SKIP LOCKED`, a killed worker's tasks are retried by another once
 * their lease expires, and results are committed only under the claim's fencing token.
 * Notifications (LISTEN/NOTIFY) wake it as soon as there is work; polling covers the rest.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerReport> {
  const { store, dags } = options;
  if (dags.length === 0) throw new UsageError('worker: no DAGs loaded, so there is nothing it could execute');
  const concurrency = options.concurrency ?? 8;
  const leaseMs = options.leaseMs ?? defaultLeaseMs();
  const maxPollMs = options.maxPollMs ?? 1_000;
  const workerId = ownerId();
  const log = childLogger({ component: 'worker', worker: workerId });
  const dagsById = new Map(dags.map((dag) => [dag.id, dag]));
  const dagIds = [...dagsById.keys()];
  const claimer = new WorkClaimer({
    store,
    scope: { dagIds },
    owner: workerId,
    leaseMs,
    servedPools: options.pools,
  });
  const batcher = new CompletionBatcher(store);
  const report: WorkerReport = { workerId, executed: {}, runsStarted: [], runsFinished: [], shards: 0 };
  const runs = new Map<number, DagRun>();
  // Task attempts and shards, by lease token (one sequence for both). A shard does not hold
  // its run open: the task that planned it does.
  const active = new Map<
    number,
    { pool: string | null; runId: number; done: Promise<void>; shard?: boolean }
  >();
  const toClose = new Set<number>();
  const busyIn = (runId: number) => [...active.values()].some((entry) => entry.runId === runId);
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  const onAbort = () => shutdown.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let failure: unknown;
  let done = 0;
  // Set by a notification or a timer: look for queued runs and for shards, not after every own
  // completion (a claim of tasks is a round trip already; most turns would find no shard).
  let lookForRuns = true;
  let lookForShards = true;
  let wake: () => void = () => {};

  await registerWorker(store, { id: workerId, pools: options.pools ?? null, concurrency, dagIds });
  const heartbeat = setInterval(() => {
    heartbeatWorker(store, workerId, done).catch((error: unknown) =>
      log.warn({ err: errorMessage(error) }, 'worker heartbeat failed; retrying at the next beat'),
    );
  }, WORKER_HEARTBEAT_MS);
  const unlisten = await store
    .listen?.(WORK_CHANNEL, () => {
      lookForRuns = true;
      lookForShards = true;
      wake();
    })
    .catch((error: unknown) => {
      log.warn({ err: errorMessage(error) }, 'cannot listen for work notifications; polling instead');
      return undefined;
    });
  log.info(
    { dags: dagIds, concurrency, pools: options.pools ?? 'all', notifications: unlisten !== undefined },
    'worker started',
  );

  const loadRuns = async (runIds: Iterable<number>): Promise<void> => {
    const missing = [...new Set(runIds)].filter((id) => !runs.has(id));
    if (missing.length === 0) return;
    const { rows } = await store.query<DagRun>(
      `SELECT ${RUN_COLUMNS} FROM dag_runs WHERE id = ANY($1::int[])`,
      [missing],
    );
    for (const row of rows) runs.set(row.id, row);
  };

  const closeRun = async (runId: number): Promise<void> => {
    const run = runs.get(runId);
    const dag = run && dagsById.get(run.dagId);
    if (!run || !dag) return;
    const state = await withTransientRetry(() => finishRunIfDone(store, dag, runId));
    if (!state) return;
    runs.delete(runId);
    const finished = { runId, dagId: dag.id, state };
    report.runsFinished.push(finished);
    childLogger({ dag: dag.id, run: runId }).info({ state }, `run ${state}`);
    options.onRunFinished?.(finished);
  };

  let lastSweep = 0;
  /**
   * Runs of its DAGs with nothing claimable or running: settle what a clear or a crash left
   * undecided, close those that are done. Returns whether any run of its DAGs is still open, and
   * when something waiting (a retry, another holder's lease) may next become claimable.
   */
  const sweep = async (): Promise<{ open: boolean; nextWakeAt: Date | null }> => {
    lastSweep = Date.now();
    const { rows } = await store.query<{
      id: number;
      dagId: string;
      state: string;
      busy: boolean;
      wakeAt: Date | null;
    }>(
      `SELECT r.id, r.dag_id AS "dagId", r.state,
              EXISTS (SELECT 1 FROM task_instances t WHERE t.run_id = r.id
                      AND t.state IN ('queued', 'running', 'up_for_retry')) AS busy,
              (SELECT least(min(t.next_attempt_at) FILTER (WHERE t.state = 'up_for_retry'),
                            min(t.lease_expires_at) FILTER (WHERE t.state = 'running'))
               FROM task_instances t WHERE t.run_id = r.id) AS "wakeAt"
       FROM dag_runs r
       WHERE r.dag_id = ANY($1::text[]) AND r.state IN ('queued', 'running')`,
      [dagIds],
    );
    let nextWakeAt: Date | null = null;
    for (const row of rows) {
      if (row.wakeAt && (!nextWakeAt || row.wakeAt < nextWakeAt)) nextWakeAt = row.wakeAt;
      if (row.state !== 'running' || row.busy) continue;
      if (busyIn(row.id)) continue;
      const dag = dagsById.get(row.dagId);
      if (!dag) continue;
      await settleTaskInstances(store, dag, row.id);
      await loadRuns([row.id]);
      await closeRun(row.id);
    }
    // Forget runs that closed elsewhere (the cache would otherwise grow for as long as it lives).
    const open = new Set(rows.map((row) => row.id));
    for (const entry of active.values()) open.add(entry.runId);
    for (const runId of runs.keys()) if (!open.has(runId)) runs.delete(runId);
    return { open: rows.length > 0, nextWakeAt };
  };

  try {
    for (;;) {
      if (await stopping(failure, shutdown, active)) break;
      if (lookForRuns) {
        lookForRuns = false;
        const started = await withTransientRetry(() => startQueuedRuns(store, dags));
        for (const run of started) {
          runs.set(run.id, run);
          report.runsStarted.push(run.id);
          childLogger({ dag: run.dagId, run: run.id }).info('run started');
        }
      }
      const free = concurrency - active.size;
      let claimed = 0;
      if (free > 0) {
        const claims = await withTransientRetry(() => claimer.claim(free, active.values()));
        claimed = claims.length;
        await loadRuns(claims.map((claim) => claim.runId));
        for (const claim of claims) {
          const run = runs.get(claim.runId);
          const dag = run && dagsById.get(run.dagId);
          if (!run || !dag) {
            // Cannot happen (claims are scoped to its DAGs' runs); hand the lease back unused.
            failure ??= new Error(
              `claimed task '${claim.taskId}' of run ${claim.runId}, which it cannot find`,
            );
            continue;
          }
          const isLeaf = dag.leaves.includes(claim.taskId);
          const attempt = executeTaskInstance({
            store,
            config: options.config,
            dag,
            run,
            claim,
            leaseMs,
            shutdown: shutdown.signal,
            batcher,
          })
            .then((result) => {
              done++;
              const key = `${dag.id}.${claim.taskId}`;
              report.executed[key] = (report.executed[key] ?? 0) + 1;
              // Only an attempt that ended a leaf, or failed or skipped (which may decide the
              // leaves), can have finished the run.
              if (isLeaf || result.outcome === 'failed' || result.outcome === 'skipped')
                toClose.add(claim.runId);
            })
            .catch((error: unknown) => {
              failure ??= error;
            })
            .finally(() => {
              active.delete(claim.leaseToken);
              wake();
            });
          active.set(claim.leaseToken, { pool: claim.pool, runId: claim.runId, done: attempt });
        }
        // Slots no task took go to shards of tasks running anywhere (ctx.shards).
        const spare = free - claimed;
        if (spare > 0 && lookForShards) {
          const shards = await withTransientRetry(() =>
            claimShards(
              store,
              { dagIds, servedPools: options.pools },
              { owner: workerId, limit: spare, leaseMs },
            ),
          );
          claimed += shards.length;
          // Fewer than asked for: none left until a plan or a failure notifies, or the timer.
          if (shards.length < spare) lookForShards = false;
          await loadRuns(shards.map((shard) => shard.runId));
          for (const shard of shards) {
            const run = runs.get(shard.runId);
            const dag = run && dagsById.get(run.dagId);
            if (!run || !dag) continue;
            const attempt = executeShard({
              store,
              config: options.config,
              dag,
              run,
              claim: shard,
              leaseMs,
              shutdown: shutdown.signal,
            })
              .then(() => {
                report.shards++;
              })
              .catch((error: unknown) => {
                failure ??= error;
              })
              .finally(() => {
                active.delete(shard.leaseToken);
                wake();
              });
            active.set(shard.leaseToken, { pool: null, runId: shard.runId, done: attempt, shard: true });
          }
        }
        if (claimed === free) continue;
      }
      for (const runId of [...toClose]) {
        if (busyIn(runId)) continue;
        toClose.delete(runId);
        await closeRun(runId);
      }
      let waitMs = maxPollMs;
      if (active.size === 0 && claimed === 0 && (options.untilIdle || Date.now() - lastSweep >= SWEEP_MS)) {
        const { open, nextWakeAt } = await withTransientRetry(sweep);
        if (!open && options.untilIdle) break;
        if (nextWakeAt) waitMs = Math.max(5, Math.min(nextWakeAt.getTime() - Date.now() + 5, maxPollMs));
      }
      await sleepUntilWoken(
        waitMs,
        shutdown.signal,
        (finish) => {
          wake = finish;
        },
        () => {
          lookForRuns = true;
          lookForShards = true;
        },
      );
    }
  } finally {
    clearInterval(heartbeat);
    options.signal?.removeEventListener('abort', onAbort);
    await unlisten?.().catch(() => {});
    await deregisterWorker(store, workerId, done).catch((error: unknown) =>
      log.warn({ err: errorMessage(error) }, 'could not mark the worker stopped'),
    );
    log.info({ tasks: done }, 'worker stopped');
  }
  return report;
}

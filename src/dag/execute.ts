import type { NightshiftConfig } from '../config.ts';
import { LeaseLostError, NightshiftError, TaskCancelledError, TaskTimeoutError } from '../errors.ts';
import { childLogger, type Logger, withLogBindings } from '../log.ts';
import type { Store } from '../store/index.ts';
import { formatLogicalDate } from './interval.ts';
import { normalizeOutputs } from './outputs.ts';
import { runShards } from './shards.ts';
import type { ClaimedTaskInstance } from './sql/claimTaskInstances.ts';
import {
  type AttemptOutcome,
  type CompletionBatcher,
  commitAttempt,
  heartbeatTaskInstance,
  leaseLost,
} from './sql/completeTaskInstance.ts';
import type { DagRun } from './sql/rows.ts';
import { retryDelay, shouldRetry } from './states.ts';
import type { Dag, JsonObject, JsonValue, TaskContext } from './types.ts';

/** Thrown by `context.skip()`. */
class SkipSignal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * A task whose leases expired this often (its process keeps dying) fails instead of looping:
 * the claim after the third expiry fails it without running it, so it ran 3 times.
 */
export const MAX_LEASE_EXPIRATIONS = 3;

export interface ExecuteOptions {
  store: Store;
  config: NightshiftConfig;
  dag: Dag;
  run: DagRun;
  claim: ClaimedTaskInstance;
  leaseMs: number;
  /** Aborted when the process shuts down: the attempt is handed back, not failed. */
  shutdown: AbortSignal;
  /** Commits attempts without downstream tasks together with others finishing at the same time. */
  batcher?: CompletionBatcher;
}

export interface ExecuteResult {
  taskId: string;
  outcome: AttemptOutcome['kind'] | 'lease_lost';
}

/**
 * Runs one claimed attempt: builds the context, heartbeats the lease, enforces the timeout, and
 * commits the outcome under the fencing token.
 */
export async function executeTaskInstance(options: ExecuteOptions): Promise<ExecuteResult> {
  const { store, dag, run, claim, leaseMs } = options;
  const lease = { runId: claim.runId, taskId: claim.taskId, leaseToken: claim.leaseToken };
  const log = childLogger({ dag: dag.id, run: run.id, task: claim.taskId, attempt: claim.tryNumber });
  const task = dag.taskById.get(claim.taskId);

  const commit = async (outcome: AttemptOutcome): Promise<ExecuteResult> => {
    try {
      await commitAttempt(store, dag, lease, outcome, options.batcher);
      return { taskId: claim.taskId, outcome: outcome.kind };
    } catch (error) {
      if (error instanceof LeaseLostError) {
        log.warn({ err: error.message }, 'result discarded: the lease was lost');
        return { taskId: claim.taskId, outcome: 'lease_lost' };
      }
      throw error;
    }
  };

  if (!task)
    return commit({ kind: 'failed', error: `task '${claim.taskId}' is no longer in DAG '${dag.id}'` });
  if (claim.leaseExpirations >= MAX_LEASE_EXPIRATIONS) {
    return commit({
      kind: 'failed',
      error: `the lease of this task expired ${claim.leaseExpirations} times: its process keeps dying or stalling (out of memory? a blocked event loop?)`,
    });
  }

  const controller = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  if (task.timeoutMs !== undefined) {
    const timeoutMs = task.timeoutMs;
    timers.push(
      setTimeout(
        () => controller.abort(new TaskTimeoutError(`task '${task.id}' timed out after ${timeoutMs} ms`)),
        timeoutMs,
      ),
    );
  }
  // Three heartbeats per lease: one lost heartbeat (a slow query, a busy event loop) is survived.
  const heartbeat = setInterval(
    () => {
      heartbeatTaskInstance(store, lease, leaseMs).then(
        (held) => {
          if (!held)
            controller.abort(new LeaseLostError(`task '${task.id}' lost its lease (taken over or cleared)`));
        },
        (error: unknown) =>
          log.warn({ err: (error as Error).message }, 'heartbeat failed; retrying at the next beat'),
      );
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  timers.push(heartbeat);
  const onShutdown = () => controller.abort(new TaskCancelledError('the process is shutting down'));
  options.shutdown.addEventListener('abort', onShutdown, { once: true });

  const started = Date.now();
  // The task's own outcome first; committing it is separate, so that a database error while
  // committing a success is never recorded as the task failing.
  let outcome: AttemptOutcome;
  try {
    const context = buildContext(options, log, controller.signal, claim.upstreamOutputs ?? {});
    log.info('task started');
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    // Lines logged by the code the task calls (training, scoring, data) carry its ids too.
    const ids = { dag: dag.id, run: run.id, task: claim.taskId, attempt: claim.tryNumber };
    const value = await Promise.race([
      withLogBindings(ids, () => Promise.resolve().then(() => task.run(context))),
      aborted,
    ]);
    outcome = { kind: 'success', outputs: normalizeOutputs(task.id, value) };
  } catch (error) {
    outcome = failureOutcome(error, claim, task, log, Date.now() - started);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    options.shutdown.removeEventListener('abort', onShutdown);
  }
  const result = await commit(outcome);
  if (outcome.kind === 'success' && result.outcome === 'success') {
    log.info({ durationMs: Date.now() - started }, 'task succeeded');
  }
  return result;
}

function failureOutcome(
  error: unknown,
  claim: ClaimedTaskInstance,
  task: NonNullable<ReturnType<Dag['taskById']['get']>>,
  log: Logger,
  durationMs: number,
): AttemptOutcome {
  if (error instanceof SkipSignal) {
    log.info({ reason: error.reason }, 'task skipped');
    return { kind: 'skipped', reason: error.reason };
  }
  if (error instanceof TaskCancelledError) {
    log.warn('task handed back: the process is shutting down');
    return { kind: 'released', reason: error.message };
  }
  const message = describeError(error);
  const retriable = !(error instanceof NightshiftError) || error.retriable;
  const failures = claim.failures + 1;
  if (shouldRetry({ failures, retries: task.retries, retriable })) {
    const delayMs = retryDelay(task, failures);
    log.warn(
      { err: message, durationMs, retryInMs: delayMs, failures, retries: task.retries },
      'task failed; will retry',
    );
    return { kind: 'retry', error: message, delayMs };
  }
  const why = retriable ? '' : ` (not retried: ${(error as Error).name} is not retriable)`;
  log.error({ err: message, durationMs, failures }, 'task failed');
  return { kind: 'failed', error: `${message}${why}` };
}

function describeError(error: unknown): string {
  if (error instanceof Error)
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

function buildContext(
  options: ExecuteOptions,
  log: Logger,
  signal: AbortSignal,
  upstream: Record<string, JsonValue>,
): TaskContext<JsonObject> {
  const { dag, run, claim } = options;
  return {
    ...runFields(dag, run),
    taskId: claim.taskId,
    attempt: claim.tryNumber,
    log,
    signal,
    upstream,
    store: options.store,
    leaseToken: claim.leaseToken,
    transaction: (fn) =>
      options.store.transaction(async (tx) => {
        const { rowCount } = await tx.query(
          `SELECT 1 FROM task_instances
           WHERE run_id = $1 AND task_id = $2 AND lease_token = $3 AND state = 'running'
           FOR UPDATE`,
          [claim.runId, claim.taskId, claim.leaseToken],
        );
        if (rowCount === 0)
          throw leaseLost({ runId: claim.runId, taskId: claim.taskId, leaseToken: claim.leaseToken });
        return fn(tx);
      }),
    config: options.config,
    skip(reason: string): never {
      throw new SkipSignal(reason);
    },
    shards: (shards, shardOptions) =>
      runShards(shards, {
        ...shardOptions,
        store: options.store,
        config: options.config,
        dag,
        run,
        task: { runId: claim.runId, taskId: claim.taskId, leaseToken: claim.leaseToken },
        owner: claim.leaseOwner ?? 'unknown',
        leaseMs: options.leaseMs,
        signal,
      }),
  };
}

/** What a task's and a shard's context say about the run. */
export function runFields(dag: Dag, run: DagRun) {
  return {
    dagId: dag.id,
    runId: run.id,
    logicalDate: run.logicalDate,
    ds: formatLogicalDate(run.logicalDate, dag.timezone),
    dataInterval: { start: run.dataIntervalStart, end: run.dataIntervalEnd },
    params: { ...dag.params, ...run.conf },
    conf: run.conf,
  };
}

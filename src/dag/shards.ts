import { setMaxListeners } from 'node:events';
import type { NightshiftConfig } from '../config.ts';
import { NightshiftError, TaskCancelledError, UsageError } from '../errors.ts';
import { childLogger, withLogBindings } from '../log.ts';
import { type Store, withTransientRetry } from '../store/index.ts';
import { runFields } from './execute.ts';
import { normalizeOutputs } from './outputs.ts';
import type { DagRun } from './sql/rows.ts';
import {
  type ClaimedShard,
  claimShards,
  completeShard,
  heartbeatShard,
  planShards,
  type ShardOutcome,
  shardProgress,
} from './sql/shards.ts';
import type { Dag, JsonValue, ShardOptions, ShardSpec } from './types.ts';

export interface ExecuteShardOptions {
  store: Store;
  config: NightshiftConfig;
  dag: Dag;
  run: DagRun;
  claim: ClaimedShard;
  leaseMs: number;
  /** Aborted when the process shuts down: the shard is handed back, not failed. */
  shutdown: AbortSignal;
}

/**
 * Runs one claimed shard with the task's `shard` function, heartbeating its lease, and commits
 * the outcome under its fencing token. Returns the outcome committed, or 'lease_lost'.
 */
export async function executeShard(
  options: ExecuteShardOptions,
): Promise<ShardOutcome['kind'] | 'lease_lost'> {
  const { store, dag, run, claim, leaseMs } = options;
  const lease = {
    runId: claim.runId,
    taskId: claim.taskId,
    shard: claim.shard,
    leaseToken: claim.leaseToken,
  };
  const log = childLogger({
    dag: dag.id,
    run: run.id,
    task: claim.taskId,
    shard: claim.shard,
    attempt: claim.attempts,
  });
  const handler = dag.taskById.get(claim.taskId)?.shard;
  const controller = new AbortController();
  const heartbeat = setInterval(
    () => {
      heartbeatShard(store, lease, leaseMs).then(
        (held) => {
          if (!held) controller.abort(new Error(`shard '${claim.shard}' lost its lease`));
        },
        (error: unknown) =>
          log.warn({ err: (error as Error).message }, 'shard heartbeat failed; retrying at the next beat'),
      );
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  const onShutdown = () => controller.abort(new TaskCancelledError('the process is shutting down'));
  options.shutdown.addEventListener('abort', onShutdown, { once: true });
  let outcome: ShardOutcome;
  try {
    if (!handler) throw new UsageError(`task '${claim.taskId}' of DAG '${dag.id}' has no 'shard' function`);
    const aborted = new Promise<never>((_, reject) =>
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }),
    );
    const value = await Promise.race([
      withLogBindings(
        { dag: dag.id, run: run.id, task: claim.taskId, shard: claim.shard, attempt: claim.attempts },
        () =>
          Promise.resolve().then(() =>
            handler(claim.spec, {
              ...runFields(dag, run),
              taskId: claim.taskId,
              shard: claim.shard,
              attempt: claim.attempts,
              log,
              signal: controller.signal,
              store,
              config: options.config,
            }),
          ),
      ),
      aborted,
    ]);
    outcome = { kind: 'success', result: normalizeOutputs(`${claim.taskId}/${claim.shard}`, value) };
  } catch (error) {
    if (error instanceof TaskCancelledError) outcome = { kind: 'released' };
    else {
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ err: message, attempt: claim.attempts, maxAttempts: claim.maxAttempts }, 'shard failed');
      outcome = { kind: 'failed', error: message };
    }
  } finally {
    clearInterval(heartbeat);
    options.shutdown.removeEventListener('abort', onShutdown);
  }
  const committed = await withTransientRetry(() => completeShard(store, lease, outcome));
  if (!committed) {
    log.warn('shard result discarded: its lease was lost');
    return 'lease_lost';
  }
  return outcome.kind;
}

export interface RunShardsOptions extends ShardOptions {
  store: Store;
  config: NightshiftConfig;
  dag: Dag;
  run: DagRun;
  task: { runId: number; taskId: string; leaseToken: number };
  owner: string;
  leaseMs: number;
  signal: AbortSignal;
}

/**
 * `ctx.shards`: plans the shards, works on them here (up to `localConcurrency` at once) while
 * workers elsewhere take the others, and returns the results in plan order once all are done.
 */
export async function runShards(
  shards: readonly ShardSpec[],
  options: RunShardsOptions,
): Promise<JsonValue[]> {
  const { store, dag, task } = options;
  if (!dag.taskById.get(task.taskId)?.shard)
    throw new UsageError(
      `task '${task.taskId}' of DAG '${dag.id}' calls ctx.shards but defines no 'shard' function`,
    );
  const names = new Set<string>();
  for (const shard of shards) {
    if (typeof shard.name !== 'string' || shard.name.length === 0)
      throw new UsageError(`task '${task.taskId}': every shard needs a non-empty name`);
    if (names.has(shard.name))
      throw new UsageError(`task '${task.taskId}': shard name '${shard.name}' is used twice`);
    names.add(shard.name);
  }
  const maxAttempts = options.maxAttempts ?? 3;
  const localConcurrency = options.localConcurrency ?? 1;
  const pollMs = options.pollMs ?? 250;
  await withTransientRetry(() => planShards(store, task, shards, maxAttempts));
  if (shards.length === 0) return [];

  const local = new Set<Promise<unknown>>();
  const stopLocal = new AbortController();
  setMaxListeners(0, stopLocal.signal);
  const onAbort = () => stopLocal.abort(options.signal.reason);
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (options.signal.aborted) throw options.signal.reason;
      const free = localConcurrency - local.size;
      if (free > 0) {
        const claims = await withTransientRetry(() =>
          claimShards(
            store,
            { runId: task.runId, taskId: task.taskId },
            {
              owner: options.owner,
              limit: free,
              leaseMs: options.leaseMs,
            },
          ),
        );
        for (const claim of claims) {
          const running: Promise<unknown> = executeShard({
            store,
            config: options.config,
            dag,
            run: options.run,
            claim,
            leaseMs: options.leaseMs,
            shutdown: stopLocal.signal,
          })
            .catch(() => undefined)
            .finally(() => local.delete(running));
          local.add(running);
        }
      }
      const progress = await withTransientRetry(() => shardProgress(store, task.runId, task.taskId));
      const [failed] = progress.failed;
      if (failed)
        // Retriable: the task's retry plans the shards again, keeping the ones that finished.
        throw new NightshiftError(
          `shard '${failed.shard}' of task '${task.taskId}' failed ${failed.attempts} times (${progress.failed.length} of ${progress.total} shards failed): ${failed.error ?? 'lease expired'}`,
          { retriable: true },
        );
      if (progress.results) return progress.results;
      await Promise.race([
        new Promise((resolve) => setTimeout(resolve, pollMs)),
        ...(local.size > 0 ? [Promise.race(local)] : []),
      ]);
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    stopLocal.abort();
    await Promise.allSettled(local);
  }
}

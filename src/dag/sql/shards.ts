import { LeaseLostError } from '../../errors.ts';
import type { Queryable, Store } from '../../store/index.ts';
import type { JsonValue, ShardSpec } from '../types.ts';
import { notifyWork } from './notify.ts';

export interface ClaimedShard {
  runId: number;
  taskId: string;
  shard: string;
  position: number;
  spec: JsonValue;
  attempts: number;
  maxAttempts: number;
  leaseToken: number;
}

export interface ShardLease {
  runId: number;
  taskId: string;
  shard: string;
  leaseToken: number;
}

export type ShardOutcome =
  | { kind: 'success'; result: JsonValue | null }
  | { kind: 'failed'; error: string }
  /** Handed back (shutdown): queued again without using up an attempt. */
  | { kind: 'released' };

/**
 * Plans a task's shards under the task's own lease (fenced: a holder that lost its lease plans
 * nothing). Shards already done with the same spec keep their results, so a retried task does
 * not redo them; a shard whose spec changed, or that failed, is queued afresh; shards no longer
 * in the plan are removed.
 */
export async function planShards(
  store: Store,
  task: { runId: number; taskId: string; leaseToken: number },
  shards: readonly ShardSpec[],
  maxAttempts: number,
): Promise<void> {
  await store.transaction(async (tx) => {
    const { rowCount } = await tx.query(
      `SELECT 1 FROM task_instances WHERE run_id = $1 AND task_id = $2 AND lease_token = $3 AND state = 'running' FOR UPDATE`,
      [task.runId, task.taskId, task.leaseToken],
    );
    if (rowCount === 0)
      throw new LeaseLostError(
        `task '${task.taskId}' of run ${task.runId}: lease ${task.leaseToken} was lost; its shards are not planned`,
      );
    await tx.query(
      `DELETE FROM task_shards WHERE run_id = $1 AND task_id = $2 AND NOT (shard = ANY($3::text[]))`,
      [task.runId, task.taskId, shards.map((shard) => shard.name)],
    );
    await tx.query(
      `INSERT INTO task_shards (run_id, task_id, shard, position, spec, max_attempts)
       SELECT $1, $2, s.shard, s.position, s.spec, $6
       FROM unnest($3::text[], $4::int[], $5::jsonb[]) AS s(shard, position, spec)
       ON CONFLICT (run_id, task_id, shard) DO UPDATE
       SET position = EXCLUDED.position, max_attempts = EXCLUDED.max_attempts,
           spec = EXCLUDED.spec,
           state = CASE WHEN task_shards.spec = EXCLUDED.spec AND task_shards.state IN ('success', 'running')
                        THEN task_shards.state ELSE 'queued' END,
           attempts = CASE WHEN task_shards.spec = EXCLUDED.spec AND task_shards.state IN ('success', 'running')
                           THEN task_shards.attempts ELSE 0 END,
           result = CASE WHEN task_shards.spec = EXCLUDED.spec THEN task_shards.result END,
           error = CASE WHEN task_shards.spec = EXCLUDED.spec AND task_shards.state = 'success' THEN task_shards.error END`,
      [
        task.runId,
        task.taskId,
        shards.map((shard) => shard.name),
        shards.map((_, position) => position),
        shards.map((shard) => JSON.stringify(shard.spec)),
        maxAttempts,
      ],
    );
    await notifyWork(tx);
  });
}

/** Which shards a claim looks at: one task's (its planner), or any running task's of some DAGs. */
export type ShardScope =
  | { runId: number; taskId: string }
  | { dagIds: readonly string[]; servedPools?: readonly string[] };

/**
 * Claims up to `limit` shards: queued ones, and running ones whose lease expired. Only shards
 * of task instances that are running (their planner is at work, or its lease is being taken
 * over) are claimed. Each claim takes a fencing token, like a task's.
 */
export async function claimShards(
  db: Queryable,
  scope: ShardScope,
  options: { owner: string; limit: number; leaseMs: number },
): Promise<ClaimedShard[]> {
  const byTask = 'taskId' in scope;
  const { rows } = await db.query<ClaimedShard>(
    `WITH picked AS (
       SELECT s.run_id, s.task_id, s.shard
       FROM task_shards s
       JOIN task_instances t ON t.run_id = s.run_id AND t.task_id = s.task_id AND t.state = 'running'
       WHERE (s.state = 'queued' OR (s.state = 'running' AND s.lease_expires_at < now() AND s.attempts < s.max_attempts))
         AND ${
           byTask
             ? 's.run_id = $4 AND s.task_id = $5'
             : `EXISTS (SELECT 1 FROM dag_runs r WHERE r.id = s.run_id AND r.state = 'running' AND r.dag_id = ANY($4::text[]))
                AND ($5::text[] IS NULL OR coalesce(t.pool, 'default') = ANY($5::text[]))`
         }
       ORDER BY s.run_id, s.task_id, s.position
       LIMIT $1
       FOR UPDATE OF s SKIP LOCKED
     )
     UPDATE task_shards s
     SET state = 'running', attempts = s.attempts + 1, lease_owner = $2,
         lease_token = nextval('lease_tokens'),
         lease_expires_at = now() + $3 * interval '1 millisecond',
         started_at = now(), ended_at = NULL
     FROM picked p
     WHERE s.run_id = p.run_id AND s.task_id = p.task_id AND s.shard = p.shard
     RETURNING s.run_id AS "runId", s.task_id AS "taskId", s.shard, s.position, s.spec,
               s.attempts, s.max_attempts AS "maxAttempts", s.lease_token AS "leaseToken"`,
    [
      options.limit,
      options.owner,
      options.leaseMs,
      byTask ? scope.runId : scope.dagIds,
      byTask ? scope.taskId : (scope.servedPools ?? null),
    ],
  );
  return rows;
}

export async function heartbeatShard(db: Queryable, lease: ShardLease, leaseMs: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE task_shards SET lease_expires_at = now() + $5 * interval '1 millisecond'
     WHERE run_id = $1 AND task_id = $2 AND shard = $3 AND lease_token = $4 AND state = 'running'`,
    [lease.runId, lease.taskId, lease.shard, lease.leaseToken, leaseMs],
  );
  return rowCount > 0;
}

/**
 * Commits a shard's outcome under its fencing token: nothing is written for a holder whose
 * lease was taken over. A failure queues the shard again until its attempts are used up.
 * Returns false when the lease was lost.
 */
export async function completeShard(
  db: Queryable,
  lease: ShardLease,
  outcome: ShardOutcome,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE task_shards
     SET state = CASE
           WHEN $5 = 'success' THEN 'success'
           WHEN $5 = 'released' THEN 'queued'
           WHEN attempts >= max_attempts THEN 'failed'
           ELSE 'queued' END,
         attempts = CASE WHEN $5 = 'released' THEN attempts - 1 ELSE attempts END,
         result = CASE WHEN $5 = 'success' THEN $6::jsonb END,
         error = $7,
         ended_at = CASE WHEN $5 = 'success' OR ($5 = 'failed' AND attempts >= max_attempts) THEN now() END,
         lease_owner = NULL, lease_expires_at = NULL
     WHERE run_id = $1 AND task_id = $2 AND shard = $3 AND lease_token = $4 AND state = 'running'`,
    [
      lease.runId,
      lease.taskId,
      lease.shard,
      lease.leaseToken,
      outcome.kind,
      outcome.kind === 'success' ? JSON.stringify(outcome.result) : null,
      outcome.kind === 'failed' ? outcome.error : null,
    ],
  );
  if (rowCount > 0 && outcome.kind !== 'success') await notifyWork(db);
  return rowCount > 0;
}

export interface ShardProgress {
  total: number;
  done: number;
  /** Shards that used up their attempts, with their last error. */
  failed: { shard: string; attempts: number; error: string | null }[];
  /** Results in plan order, once every shard is done. */
  results?: JsonValue[];
}

export async function shardProgress(db: Queryable, runId: number, taskId: string): Promise<ShardProgress> {
  const { rows } = await db.query<{
    shard: string;
    state: string;
    attempts: number;
    error: string | null;
    result: JsonValue;
  }>(
    // A shard whose last allowed attempt's holder died (lease expired) has failed too.
    `SELECT shard,
            CASE WHEN state = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                 THEN 'failed' ELSE state END AS state,
            attempts,
            CASE WHEN state = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                 THEN 'its lease expired on every attempt: the processes running it died or stalled'
                 ELSE error END AS error,
            result
     FROM task_shards
     WHERE run_id = $1 AND task_id = $2 ORDER BY position`,
    [runId, taskId],
  );
  const done = rows.filter((row) => row.state === 'success').length;
  return {
    total: rows.length,
    done,
    failed: rows
      .filter((row) => row.state === 'failed')
      .map((row) => ({ shard: row.shard, attempts: row.attempts, error: row.error })),
    ...(done === rows.length ? { results: rows.map((row) => row.result) } : {}),
  };
}

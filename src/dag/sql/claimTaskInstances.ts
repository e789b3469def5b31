import type { Queryable } from '../../store/index.ts';
import type { JsonValue } from '../types.ts';
import { qualify, TASK_INSTANCE_COLUMNS, type TaskInstance } from './rows.ts';

export interface ClaimOptions {
  runId: number;
  owner: string;
  limit: number;
  leaseMs: number;
  /** Pools with no free slot: their task instances are left for later. */
  fullPools?: readonly string[];
}

/** A claimed task instance: the caller holds its lease until `leaseExpiresAt` (renewed by heartbeats). */
export type ClaimedTaskInstance = TaskInstance & {
  leaseToken: number;
  previousState: string;
  /** The outputs of its direct upstream tasks, fetched with the claim (no second round trip). */
  upstreamOutputs: Record<string, JsonValue> | null;
};

/**
 * Claims up to `limit` runnable task instances of one run: queued ones, retries whose delay has
 * passed, and running ones whose lease expired (their holder died). Each claim takes a new
 * fencing token from a sequence; results are later committed only under that token.
 *
 * Locking: `FOR UPDATE SKIP LOCKED` lets concurrent claimers (threads, processes, machines) pass
 * over rows another claimer is taking instead of queueing behind it, so each row goes to exactly
 * one claimer and nobody waits. Lease times use the database clock, so claimers on machines
 * with skewed clocks agree on expiry. The whole claim is one statement: one round trip.
 */
export async function claimTaskInstances(
  db: Queryable,
  options: ClaimOptions,
): Promise<ClaimedTaskInstance[]> {
  const { rows } = await db.query<ClaimedTaskInstance>(
    `WITH picked AS (
       SELECT run_id, task_id, state AS previous_state, lease_token AS previous_token, lease_owner AS previous_owner
       FROM task_instances
       WHERE run_id = $1
         AND (state = 'queued'
              OR (state = 'up_for_retry' AND next_attempt_at <= now())
              OR (state = 'running' AND lease_expires_at < now()))
         AND (pool IS NULL OR NOT (pool = ANY($5::text[])))
       ORDER BY queued_at NULLS LAST, task_id
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ), expired AS (
       UPDATE task_attempts a
       SET state = 'lease_expired', ended_at = now(),
           error = 'lease expired: ' || p.previous_owner || ' stopped heartbeating (process killed or stalled)'
       FROM picked p
       WHERE p.previous_state = 'running' AND a.run_id = p.run_id AND a.task_id = p.task_id
         AND a.lease_token = p.previous_token AND a.state = 'running'
     ), claimed AS (
       UPDATE task_instances t
       SET state = 'running',
           try_number = t.try_number + 1,
           lease_expirations = t.lease_expirations + (p.previous_state = 'running')::int,
           lease_owner = $2,
           lease_token = nextval('lease_tokens'),
           lease_expires_at = now() + $4 * interval '1 millisecond',
           heartbeat_at = now(),
           started_at = now(),
           ended_at = NULL,
           next_attempt_at = NULL
       FROM picked p
       WHERE t.run_id = p.run_id AND t.task_id = p.task_id
       RETURNING ${qualify(TASK_INSTANCE_COLUMNS, 't')}, p.previous_state AS "previousState"
     ), attempts AS (
       INSERT INTO task_attempts (run_id, task_id, attempt, lease_token, owner)
       SELECT "runId", "taskId", "tryNumber", "leaseToken", "leaseOwner" FROM claimed
     )
     SELECT c.*,
            (SELECT jsonb_object_agg(u.task_id, u.outputs) FROM task_instances u
             WHERE u.run_id = c."runId" AND u.task_id = ANY(c.upstream) AND u.outputs IS NOT NULL) AS "upstreamOutputs"
     FROM claimed c`,
    [options.runId, options.owner, options.limit, options.leaseMs, options.fullPools ?? []],
  );
  return rows;
}

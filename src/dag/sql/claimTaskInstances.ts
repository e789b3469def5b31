import type { Queryable } from '../../store/index.ts';
import type { JsonValue } from '../types.ts';
import { qualify, TASK_INSTANCE_COLUMNS, type TaskInstance } from './rows.ts';

/** Which task instances a claim looks at: one run's, or those of every running run of some DAGs. */
export type ClaimScope = { runId: number } | { dagIds: readonly string[] };

export interface ClaimOptions {
  scope: ClaimScope;
  owner: string;
  limit: number;
  leaseMs: number;
  /** Pools whose task instances are left for later (no free slot, or claimed apart under a cap). */
  excludePools?: readonly string[];
  /** Only these pools (tasks without a pool are in `default`); all when omitted. */
  servedPools?: readonly string[];
  /** Only task instances of this pool. */
  onlyPool?: string;
}

/** The pool of tasks that name none. */
export const DEFAULT_POOL = 'default';

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
  const { scope } = options;
  const inRun = 'runId' in scope;
  const sql =
    options.onlyPool === undefined
      ? inRun
        ? CLAIM_IN_RUN
        : CLAIM_ACROSS_RUNS
      : inRun
        ? CLAIM_POOL_IN_RUN
        : CLAIM_POOL_ACROSS_RUNS;
  const { rows } = await db.query<ClaimedTaskInstance>(sql, [
    'runId' in scope ? scope.runId : scope.dagIds,
    options.owner,
    options.limit,
    options.leaseMs,
    options.excludePools ?? [],
    options.servedPools ?? null,
    options.onlyPool ?? null,
  ]);
  return rows;
}

// Separate statement texts rather than one with `$1 IS NULL OR ...`: each keeps a plan that uses
// its own index (a run's runnable rows; every runnable row in queue order). A capped pool's claim
// takes its limit from nightshift_pool_claim_limit (migration 000004), which locks the pool's row
// until the claim commits, and takes over expired leases first.
const claimSql = (scope: string, order: string, limit = '$3') =>
  `WITH picked AS (
       SELECT run_id, task_id, state AS previous_state, lease_token AS previous_token, lease_owner AS previous_owner
       FROM task_instances ti
       WHERE ${scope}
         AND (state = 'queued'
              OR (state = 'up_for_retry' AND next_attempt_at <= now())
              OR (state = 'running' AND lease_expires_at < now()))
         AND (pool IS NULL OR NOT (pool = ANY($5::text[])))
         AND ($6::text[] IS NULL OR coalesce(pool, '${DEFAULT_POOL}') = ANY($6::text[]))
         AND ($7::text IS NULL OR pool = $7)
       ORDER BY ${order}
       LIMIT ${limit}
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
     FROM claimed c`;

const IN_RUN = 'ti.run_id = $1';
const ACROSS_RUNS = `EXISTS (SELECT 1 FROM dag_runs r WHERE r.id = ti.run_id AND r.state = 'running' AND r.dag_id = ANY($1::text[]))`;
const POOL_LIMIT = 'nightshift_pool_claim_limit($7, $3)';
const CLAIM_IN_RUN = claimSql(IN_RUN, 'queued_at NULLS LAST, task_id');
const CLAIM_ACROSS_RUNS = claimSql(ACROSS_RUNS, 'queued_at NULLS LAST, run_id, task_id');
const CLAIM_POOL_IN_RUN = claimSql(
  IN_RUN,
  `(state = 'running') DESC, queued_at NULLS LAST, task_id`,
  POOL_LIMIT,
);
const CLAIM_POOL_ACROSS_RUNS = claimSql(
  ACROSS_RUNS,
  `(state = 'running') DESC, queued_at NULLS LAST, run_id, task_id`,
  POOL_LIMIT,
);

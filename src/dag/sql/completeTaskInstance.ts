import { LeaseLostError } from '../../errors.ts';
import type { Queryable } from '../../store/index.ts';
import type { JsonValue } from '../types.ts';

export type AttemptOutcome =
  | { kind: 'success'; outputs: JsonValue | null }
  | { kind: 'skipped'; reason: string }
  | { kind: 'retry'; error: string; delayMs: number }
  | { kind: 'failed'; error: string }
  /** Handed back without using up a retry (the process is shutting down). */
  | { kind: 'released'; reason: string };

export interface LeaseRef {
  runId: number;
  taskId: string;
  leaseToken: number;
}

/**
 * Commits an attempt's outcome under its fencing token. If the lease was taken over (it expired
 * and another process claimed the task), the token no longer matches and nothing is written:
 * the stale holder gets a LeaseLostError and its result is discarded.
 */
export async function completeTaskInstance(
  db: Queryable,
  lease: LeaseRef,
  outcome: AttemptOutcome,
): Promise<void> {
  const [state, attemptState, error, outputs, delayMs, failed] = describe(outcome);
  const { rowCount } = await db.query(
    `WITH done AS (
       UPDATE task_instances
       SET state = $4,
           outputs = CASE WHEN $4 = 'success' THEN $6::jsonb ELSE outputs END,
           error = $5,
           failures = failures + $8,
           next_attempt_at = CASE WHEN $4 = 'up_for_retry' THEN now() + $7 * interval '1 millisecond' END,
           ended_at = CASE WHEN $4 IN ('success', 'failed', 'skipped') THEN now() END,
           queued_at = CASE WHEN $4 = 'queued' THEN now() ELSE queued_at END,
           lease_owner = NULL,
           lease_expires_at = NULL
       WHERE run_id = $1 AND task_id = $2 AND lease_token = $3 AND state = 'running'
       RETURNING run_id, task_id, try_number
     )
     UPDATE task_attempts a
     SET state = $9, ended_at = now(), error = $5
     FROM done
     WHERE a.run_id = done.run_id AND a.task_id = done.task_id AND a.attempt = done.try_number
     RETURNING a.attempt`,
    [lease.runId, lease.taskId, lease.leaseToken, state, error, outputs, delayMs, failed, attemptState],
  );
  if (rowCount === 0) {
    throw new LeaseLostError(
      `task '${lease.taskId}' of run ${lease.runId}: lease ${lease.leaseToken} was taken over or cleared; this attempt's result is discarded`,
    );
  }
}

function describe(outcome: AttemptOutcome): [string, string, string | null, string | null, number, number] {
  switch (outcome.kind) {
    case 'success':
      return ['success', 'success', null, JSON.stringify(outcome.outputs), 0, 0];
    case 'skipped':
      return ['skipped', 'skipped', outcome.reason, null, 0, 0];
    case 'retry':
      return ['up_for_retry', 'failed', outcome.error, null, outcome.delayMs, 1];
    case 'failed':
      return ['failed', 'failed', outcome.error, null, 0, 1];
    case 'released':
      return ['queued', 'cancelled', outcome.reason, null, 0, 0];
  }
}

/** Extends a lease. False when it was lost: the holder must stop and not commit. */
export async function heartbeatTaskInstance(
  db: Queryable,
  lease: LeaseRef,
  leaseMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE task_instances
     SET lease_expires_at = now() + $4 * interval '1 millisecond', heartbeat_at = now()
     WHERE run_id = $1 AND task_id = $2 AND lease_token = $3 AND state = 'running'`,
    [lease.runId, lease.taskId, lease.leaseToken, leaseMs],
  );
  return rowCount > 0;
}

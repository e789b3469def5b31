import type { JsonObject, JsonValue, RunState, TaskState } from '../types.ts';

/** A run as stored. */
export interface DagRun {
  id: number;
  dagId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  state: RunState;
  runType: 'manual' | 'scheduled' | 'backfill';
  conf: JsonObject;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

/** A task instance as stored. */
export interface TaskInstance {
  runId: number;
  taskId: string;
  state: TaskState;
  upstream: string[];
  pool: string | null;
  tryNumber: number;
  failures: number;
  leaseExpirations: number;
  maxRetries: number;
  nextAttemptAt: Date | null;
  leaseOwner: string | null;
  leaseToken: number | null;
  leaseExpiresAt: Date | null;
  heartbeatAt: Date | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
  error: string | null;
  outputs: JsonValue | null;
}

export interface TaskAttempt {
  runId: number;
  taskId: string;
  attempt: number;
  leaseToken: number;
  owner: string;
  state: 'running' | 'success' | 'failed' | 'skipped' | 'lease_expired' | 'cancelled' | 'cleared';
  startedAt: Date;
  endedAt: Date | null;
  error: string | null;
}

export const RUN_COLUMNS = `id, dag_id AS "dagId", logical_date AS "logicalDate",
  data_interval_start AS "dataIntervalStart", data_interval_end AS "dataIntervalEnd", state,
  run_type AS "runType", conf, created_at AS "createdAt", started_at AS "startedAt", ended_at AS "endedAt"`;

export const TASK_INSTANCE_COLUMNS = `run_id AS "runId", task_id AS "taskId", state, upstream, pool,
  try_number AS "tryNumber", failures, lease_expirations AS "leaseExpirations", max_retries AS "maxRetries",
  next_attempt_at AS "nextAttemptAt", lease_owner AS "leaseOwner", lease_token AS "leaseToken",
  lease_expires_at AS "leaseExpiresAt", heartbeat_at AS "heartbeatAt", queued_at AS "queuedAt",
  started_at AS "startedAt", ended_at AS "endedAt", error, outputs`;

export const TASK_ATTEMPT_COLUMNS = `run_id AS "runId", task_id AS "taskId", attempt, lease_token AS "leaseToken",
  owner, state, started_at AS "startedAt", ended_at AS "endedAt", error`;

/** Prefixes every column of a list made above with a table alias. */
export function qualify(columns: string, alias: string): string {
  return columns.replace(/(^|,\s*)([a-z_]+)(?=( AS |,|$))/g, `$1${alias}.$2`);
}

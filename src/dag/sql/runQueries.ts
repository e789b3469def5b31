import type { Queryable } from '../../store/index.ts';
import { decideRunState, isFinished } from '../states.ts';
import type { Dag, RunState, TaskState } from '../types.ts';
import {
  type DagRun,
  RUN_COLUMNS,
  TASK_ATTEMPT_COLUMNS,
  TASK_INSTANCE_COLUMNS,
  type TaskAttempt,
  type TaskInstance,
} from './rows.ts';

export async function getRun(db: Queryable, runId: number): Promise<DagRun | undefined> {
  const { rows } = await db.query<DagRun>(`SELECT ${RUN_COLUMNS} FROM dag_runs WHERE id = $1`, [runId]);
  return rows[0];
}

export async function listRuns(
  db: Queryable,
  options: { dagId?: string; limit?: number } = {},
): Promise<DagRun[]> {
  const { rows } = await db.query<DagRun>(
    `SELECT ${RUN_COLUMNS} FROM dag_runs
     WHERE ($1::text IS NULL OR dag_id = $1)
     ORDER BY logical_date DESC, id DESC
     LIMIT $2`,
    [options.dagId ?? null, options.limit ?? 100],
  );
  return rows;
}

export async function listTaskInstances(db: Queryable, runId: number): Promise<TaskInstance[]> {
  const { rows } = await db.query<TaskInstance>(
    `SELECT ${TASK_INSTANCE_COLUMNS} FROM task_instances WHERE run_id = $1 ORDER BY started_at NULLS LAST, task_id`,
    [runId],
  );
  return rows;
}

export async function listTaskAttempts(db: Queryable, runId: number): Promise<TaskAttempt[]> {
  const { rows } = await db.query<TaskAttempt>(
    `SELECT ${TASK_ATTEMPT_COLUMNS} FROM task_attempts WHERE run_id = $1 ORDER BY task_id, attempt`,
    [runId],
  );
  return rows;
}

/** The JSON outputs of some tasks of a run, by task id (tasks without outputs are left out). */
export async function getTaskOutputs(
  db: Queryable,
  runId: number,
  taskIds: readonly string[],
): Promise<Record<string, unknown>> {
  if (taskIds.length === 0) return {};
  const { rows } = await db.query<{ taskId: string; outputs: unknown }>(
    `SELECT task_id AS "taskId", outputs FROM task_instances
     WHERE run_id = $1 AND task_id = ANY($2::text[]) AND outputs IS NOT NULL`,
    [runId, taskIds],
  );
  return Object.fromEntries(rows.map((row) => [row.taskId, row.outputs]));
}

export interface RunProgress {
  /** Task instances of the DAG's tasks not yet finished. */
  open: number;
  /** The earliest time something now waiting may become claimable (a retry, an expiring lease). */
  nextWakeAt: Date | null;
  /** Running instances whose lease a live holder keeps renewing. */
  runningElsewhere: number;
}

export async function getRunProgress(db: Queryable, dag: Dag, runId: number): Promise<RunProgress> {
  const { rows } = await db.query<RunProgress>(
    `SELECT count(*) FILTER (WHERE state NOT IN ('success', 'failed', 'upstream_failed', 'skipped'))::int AS open,
            least(min(next_attempt_at) FILTER (WHERE state = 'up_for_retry'),
                  min(lease_expires_at) FILTER (WHERE state = 'running')) AS "nextWakeAt",
            count(*) FILTER (WHERE state = 'running' AND lease_expires_at >= now())::int AS "runningElsewhere"
     FROM task_instances WHERE run_id = $1 AND task_id = ANY($2::text[])`,
    [runId, dag.tasks.map((task) => task.id)],
  );
  return rows[0] ?? { open: 0, nextWakeAt: null, runningElsewhere: 0 };
}

/** Marks the run started (queued to running). */
export async function startRun(db: Queryable, runId: number): Promise<void> {
  await db.query(
    `UPDATE dag_runs SET state = 'running', started_at = now(), ended_at = NULL
     WHERE id = $1 AND state IN ('queued', 'failed')`,
    [runId],
  );
}

/**
 * Decides the run from its leaves once every task instance has finished. Returns the final
 * state, or undefined while tasks are open.
 */
export async function finishRunIfDone(db: Queryable, dag: Dag, runId: number): Promise<RunState | undefined> {
  const taskIds = dag.tasks.map((task) => task.id);
  const { rows } = await db.query<{ taskId: string; state: TaskState }>(
    `SELECT task_id AS "taskId", state FROM task_instances WHERE run_id = $1 AND task_id = ANY($2::text[])`,
    [runId, taskIds],
  );
  const open = rows.some((row) => !isFinished(row.state));
  const leaves = new Set(dag.leaves);
  const decided = decideRunState(
    rows.filter((row) => leaves.has(row.taskId)).map((row) => row.state),
    !open,
  );
  if (!decided) return undefined;
  // Guarded by the same condition in one statement: a `tasks clear` committed since the read
  // above leaves an unfinished task, and then the run is not closed over it.
  const { rowCount } = await db.query(
    `UPDATE dag_runs SET state = $2, ended_at = now()
     WHERE id = $1
       AND NOT EXISTS (
         SELECT 1 FROM task_instances
         WHERE run_id = $1 AND task_id = ANY($3::text[])
           AND state NOT IN ('success', 'failed', 'upstream_failed', 'skipped'))`,
    [runId, decided, taskIds],
  );
  return rowCount > 0 ? decided : undefined;
}

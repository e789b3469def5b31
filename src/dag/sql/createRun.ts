import { NightshiftError } from '../../errors.ts';
import type { Queryable, Store } from '../../store/index.ts';
import type { Dag, DataInterval, JsonObject } from '../types.ts';
import { notifyWork } from './notify.ts';
import { type DagRun, RUN_COLUMNS } from './rows.ts';

export interface CreateRunInput {
  dag: Dag;
  logicalDate: Date;
  interval: DataInterval;
  conf: JsonObject;
  runType: DagRun['runType'];
}

/**
 * Creates the run for (DAG, logical date) with one task instance per task, or returns the
 * existing one: the unique constraint makes this safe when two processes race. Task instances
 * for tasks added to the DAG since are added; open ones whose task was removed are skipped.
 */
export async function createOrGetRun(
  store: Store,
  input: CreateRunInput,
): Promise<{ run: DagRun; created: boolean }> {
  return store.transaction(async (tx) => {
    const inserted = await tx.query<DagRun>(
      `INSERT INTO dag_runs (dag_id, logical_date, data_interval_start, data_interval_end, conf, run_type)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (dag_id, logical_date) DO NOTHING
       RETURNING ${RUN_COLUMNS}`,
      [
        input.dag.id,
        input.logicalDate,
        input.interval.start,
        input.interval.end,
        JSON.stringify(input.conf),
        input.runType,
      ],
    );
    const run = inserted.rows[0] ?? (await getRunByDate(tx, input.dag.id, input.logicalDate));
    if (!run)
      throw new NightshiftError(
        `run of ${input.dag.id} for ${input.logicalDate.toISOString()} vanished while being created`,
      );
    await syncTaskInstances(tx, run.id, input.dag);
    if (inserted.rows.length > 0) await notifyWork(tx);
    return { run, created: inserted.rows.length > 0 };
  });
}

/**
 * Adds instances for tasks added to the DAG since the run was created, and brings the
 * dependencies, pool and retries of the others up to date with the DAG (an attempt in flight
 * keeps its own), so that a DAG edited between two attempts at a run is followed as it is now.
 */
async function syncTaskInstances(tx: Queryable, runId: number, dag: Dag): Promise<void> {
  const tasks = dag.tasks.map((task) => ({
    task_id: task.id,
    upstream: task.deps,
    pool: task.pool ?? null,
    max_retries: task.retries,
  }));
  await tx.query(
    `WITH current AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb) AS t(task_id text, upstream text[], pool text, max_retries integer)
     ), updated AS (
       UPDATE task_instances ti
       SET upstream = c.upstream, pool = c.pool, max_retries = c.max_retries
       FROM current c
       WHERE ti.run_id = $1 AND ti.task_id = c.task_id AND ti.state <> 'running'
         AND (ti.upstream <> c.upstream OR ti.pool IS DISTINCT FROM c.pool OR ti.max_retries <> c.max_retries)
     )
     INSERT INTO task_instances (run_id, task_id, upstream, pool, max_retries)
     SELECT $1, c.task_id, c.upstream, c.pool, c.max_retries FROM current c
     ON CONFLICT (run_id, task_id) DO NOTHING`,
    [runId, JSON.stringify(tasks)],
  );
}

/** Open instances of tasks no longer in the DAG are skipped, so that the run can finish. */
export async function skipRemovedTasks(db: Queryable, runId: number, dag: Dag): Promise<string[]> {
  const { rows } = await db.query<{ taskId: string }>(
    `UPDATE task_instances SET state = 'skipped', ended_at = now(), error = 'task removed from the DAG'
     WHERE run_id = $1 AND NOT (task_id = ANY($2::text[]))
       AND state IN ('scheduled', 'queued', 'up_for_retry')
     RETURNING task_id AS "taskId"`,
    [runId, dag.tasks.map((task) => task.id)],
  );
  return rows.map((row) => row.taskId);
}

export async function getRunByDate(
  db: Queryable,
  dagId: string,
  logicalDate: Date,
): Promise<DagRun | undefined> {
  const { rows } = await db.query<DagRun>(
    `SELECT ${RUN_COLUMNS} FROM dag_runs WHERE dag_id = $1 AND logical_date = $2`,
    [dagId, logicalDate],
  );
  return rows[0];
}

import type { DagRun } from '../../dag/index.ts';
import { RUN_COLUMNS } from '../../dag/sql/rows.ts';
import type { Queryable } from '../../store/index.ts';

/** The logical date of the DAG's latest run created by the scheduler. */
export async function lastScheduledLogicalDate(db: Queryable, dagId: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ logicalDate: Date | null }>(
    `SELECT max(logical_date) AS "logicalDate" FROM dag_runs WHERE dag_id = $1 AND run_type = 'scheduled'`,
    [dagId],
  );
  return rows[0]?.logicalDate ?? undefined;
}

/** Runs of the DAG queued or running, of any type: they count against `maxActiveRuns`. */
export async function countActiveRuns(db: Queryable, dagId: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM dag_runs WHERE dag_id = $1 AND state IN ('queued', 'running')`,
    [dagId],
  );
  return rows[0]?.count ?? 0;
}

/** Logical dates (as epoch ms) of the DAG's runs at or after `from`, of any type. */
export async function existingLogicalDates(
  db: Queryable,
  dagId: string,
  from: Date | undefined,
): Promise<Set<number>> {
  const { rows } = await db.query<{ logicalDate: Date }>(
    `SELECT logical_date AS "logicalDate" FROM dag_runs
     WHERE dag_id = $1 AND ($2::timestamptz IS NULL OR logical_date >= $2)`,
    [dagId, from ?? null],
  );
  return new Set(rows.map((row) => row.logicalDate.getTime()));
}

/**
 * Takes the oldest queued run of the DAG for execution in this process, when fewer than
 * `maxActiveRuns` of its runs are running. The state moves to `running` in the same statement,
 * and `SKIP LOCKED` keeps two schedulers from taking the same run.
 */
export async function claimQueuedRun(
  db: Queryable,
  dagId: string,
  maxActiveRuns: number,
): Promise<DagRun | undefined> {
  const { rows } = await db.query<DagRun>(
    `UPDATE dag_runs SET state = 'running', started_at = now(), ended_at = NULL
     WHERE id = (
       SELECT id FROM dag_runs
       WHERE dag_id = $1 AND state = 'queued'
         AND (SELECT count(*) FROM dag_runs WHERE dag_id = $1 AND state = 'running') < $2
       ORDER BY logical_date, id
       LIMIT 1
       FOR UPDATE SKIP LOCKED)
     RETURNING ${RUN_COLUMNS}`,
    [dagId, maxActiveRuns],
  );
  return rows[0];
}

/**
 * Takes a running run of the DAG that nobody is executing any more (the scheduler or `run`
 * process executing it died): none of its tasks is running under a live lease, and nothing
 * about it changed for `idleMs`. Its `started_at` is refreshed, so that a second scheduler
 * looking at the same moment passes it by. A run whose executor is merely waiting (a retry
 * delay) may be taken too; that only adds a second executor, and leases keep each task with one.
 */
export async function adoptOrphanedRun(
  db: Queryable,
  dagId: string,
  idleMs: number,
  excludeRunIds: readonly number[],
): Promise<DagRun | undefined> {
  const { rows } = await db.query<DagRun>(
    `UPDATE dag_runs SET started_at = now()
     WHERE id = (
       SELECT r.id FROM dag_runs r
       WHERE r.dag_id = $1 AND r.state = 'running' AND NOT (r.id = ANY($3::int[]))
         AND r.started_at < now() - $2 * interval '1 millisecond'
         AND NOT EXISTS (
           SELECT 1 FROM task_instances t
           WHERE t.run_id = r.id
             AND ((t.state = 'running' AND t.lease_expires_at >= now())
                  OR greatest(t.queued_at, t.started_at, t.ended_at) >= now() - $2 * interval '1 millisecond'))
       ORDER BY r.logical_date, r.id
       LIMIT 1
       FOR UPDATE SKIP LOCKED)
     RETURNING ${RUN_COLUMNS}`,
    [dagId, idleMs, excludeRunIds],
  );
  return rows[0];
}

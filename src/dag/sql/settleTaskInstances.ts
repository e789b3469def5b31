import type { Queryable } from '../../store/index.ts';
import { decideReadiness } from '../states.ts';
import type { Dag, TaskState } from '../types.ts';

/**
 * Moves `scheduled` task instances whose upstream tasks have settled to `queued`,
 * `upstream_failed` or `skipped` (per their trigger rule), following the consequences
 * downstream. `candidates` limits the first pass to some tasks (the downstream of a task that
 * just finished); without it every scheduled task of the run is looked at.
 *
 * Correct under concurrency: either a caller settles after committing its own task's result, so
 * of two upstream tasks finishing at once the later one to commit sees the other's result; or it
 * settles inside the committing transaction with `lock`, which serialises the two on the
 * downstream rows. Each update is guarded by `state = 'scheduled'`, so settling twice is harmless.
 * `queued` collects the tasks this call decided to queue.
 */
export async function settleTaskInstances(
  db: Queryable,
  dag: Dag,
  runId: number,
  candidates?: readonly string[],
  options: { lock?: boolean; queued?: string[] } = {},
): Promise<number> {
  let changed = 0;
  let frontier: readonly string[] | undefined = candidates;
  while (frontier === undefined || frontier.length > 0) {
    if (options.lock && frontier !== undefined) {
      // Inside the transaction that committed an upstream result: lock the tasks about to be
      // decided (in a fixed order), so that a concurrent completion of another of their upstream
      // tasks waits for this commit and then decides with both results visible.
      await db.query(
        `SELECT 1 FROM task_instances WHERE run_id = $1 AND task_id = ANY($2::text[]) ORDER BY task_id FOR UPDATE`,
        [runId, frontier],
      );
    }
    const { rows } = await db.query<{ taskId: string; upstreamStates: TaskState[] | null }>(
      `SELECT t.task_id AS "taskId", array_agg(u.state) FILTER (WHERE u.task_id IS NOT NULL) AS "upstreamStates"
       FROM task_instances t
       LEFT JOIN task_instances u ON u.run_id = t.run_id AND u.task_id = ANY(t.upstream)
       WHERE t.run_id = $1 AND t.state = 'scheduled' AND ($2::text[] IS NULL OR t.task_id = ANY($2::text[]))
       GROUP BY t.task_id`,
      [runId, frontier ?? null],
    );
    const ids: string[] = [];
    const states: string[] = [];
    const next = new Set<string>();
    for (const row of rows) {
      const task = dag.taskById.get(row.taskId);
      if (!task) continue;
      const decision = decideReadiness(task.triggerRule, row.upstreamStates ?? []);
      if (!decision) continue;
      ids.push(row.taskId);
      states.push(decision);
      if (decision !== 'queued')
        for (const downstream of dag.downstream.get(row.taskId) ?? []) next.add(downstream);
    }
    if (ids.length > 0) {
      const result = await db.query(
        `UPDATE task_instances t
         SET state = v.state,
             queued_at = CASE WHEN v.state = 'queued' THEN now() ELSE t.queued_at END,
             ended_at = CASE WHEN v.state <> 'queued' THEN now() ELSE t.ended_at END
         FROM unnest($2::text[], $3::text[]) AS v(task_id, state)
         WHERE t.run_id = $1 AND t.task_id = v.task_id AND t.state = 'scheduled'`,
        [runId, ids, states],
      );
      changed += result.rowCount;
      if (options.queued)
        for (const [i, id] of ids.entries()) if (states[i] === 'queued') options.queued.push(id);
    }
    frontier = [...next];
  }
  return changed;
}

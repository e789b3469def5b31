import type { Queryable, Store } from '../../store/index.ts';

export interface ClearOptions {
  /** Tasks to clear; all tasks of the run when absent. */
  taskIds?: readonly string[];
  /** Also clear every task downstream of them, whatever its state. */
  downstream?: boolean;
  /** Only clear tasks in these states (for "retry the failed part of a run"). */
  onlyStates?: readonly string[];
}

export interface ClearResult {
  cleared: string[];
}

/**
 * Resets task instances to `scheduled` with a fresh retry budget, so that the next run of the
 * DAG for that date executes them again. Tasks downstream of a cleared task that never ran
 * because of it (`upstream_failed`, or `skipped` without an attempt) are cleared with it.
 * A cleared task that is running loses its lease: its holder cannot commit (fencing).
 * The run goes back to `queued`.
 */
export async function clearTaskInstances(
  store: Store,
  runId: number,
  options: ClearOptions = {},
): Promise<ClearResult> {
  return store.transaction(async (tx) => {
    const { rows } = await tx.query<{ taskId: string; upstream: string[]; state: string; tryNumber: number }>(
      `SELECT task_id AS "taskId", upstream, state, try_number AS "tryNumber"
       FROM task_instances WHERE run_id = $1 FOR UPDATE`,
      [runId],
    );
    const downstreamOf = new Map<string, string[]>();
    for (const row of rows) {
      for (const dep of row.upstream) downstreamOf.set(dep, [...(downstreamOf.get(dep) ?? []), row.taskId]);
    }
    const byId = new Map(rows.map((row) => [row.taskId, row]));
    const roots = (options.taskIds ?? rows.map((row) => row.taskId)).filter((taskId) => {
      const row = byId.get(taskId);
      return row !== undefined && (!options.onlyStates || options.onlyStates.includes(row.state));
    });
    const cleared = new Set<string>(roots);
    const queue = [...roots];
    while (queue.length > 0) {
      const taskId = queue.shift() as string;
      for (const child of downstreamOf.get(taskId) ?? []) {
        const row = byId.get(child);
        if (!row || cleared.has(child)) continue;
        const neverRan = row.state === 'upstream_failed' || (row.state === 'skipped' && row.tryNumber === 0);
        if (options.downstream || neverRan) {
          cleared.add(child);
          queue.push(child);
        }
      }
    }
    if (cleared.size === 0) return { cleared: [] };
    const ids = [...cleared];
    await markAttemptsCleared(tx, runId, ids);
    // A cleared task plans its shards afresh; a shard still running loses its lease (fencing).
    await tx.query('DELETE FROM task_shards WHERE run_id = $1 AND task_id = ANY($2::text[])', [runId, ids]);
    await tx.query(
      `UPDATE task_instances
       SET state = 'scheduled', failures = 0, lease_expirations = 0, next_attempt_at = NULL,
           lease_owner = NULL, lease_expires_at = NULL, queued_at = NULL, started_at = NULL,
           ended_at = NULL, error = NULL, outputs = NULL
       WHERE run_id = $1 AND task_id = ANY($2::text[])`,
      [runId, ids],
    );
    await tx.query(`UPDATE dag_runs SET state = 'queued', ended_at = NULL WHERE id = $1`, [runId]);
    return { cleared: ids.sort() };
  });
}

async function markAttemptsCleared(tx: Queryable, runId: number, taskIds: readonly string[]): Promise<void> {
  await tx.query(
    `UPDATE task_attempts SET state = 'cleared', ended_at = now(), error = 'cleared while running'
     WHERE run_id = $1 AND task_id = ANY($2::text[]) AND state = 'running'`,
    [runId, taskIds],
  );
}

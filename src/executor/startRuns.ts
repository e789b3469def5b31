import { clearTaskInstances } from '../dag/sql/clearTaskInstances.ts';
import { skipRemovedTasks } from '../dag/sql/createRun.ts';
import { notifyWork } from '../dag/sql/notify.ts';
import type { DagRun } from '../dag/sql/rows.ts';
import { startRun } from '../dag/sql/runQueries.ts';
import { settleTaskInstances } from '../dag/sql/settleTaskInstances.ts';
import type { Dag } from '../dag/types.ts';
import { lockDagForScheduling, storeInTransaction } from '../scheduler/sql/dagLock.ts';
import { claimQueuedRun } from '../scheduler/sql/scheduledRuns.ts';
import type { Store } from '../store/index.ts';

/**
 * Starts the DAGs' queued runs, oldest first, within each DAG's `maxActiveRuns`: each moves to
 * `running` with its ready tasks queued, in one transaction under the DAG's scheduling lock, so
 * that two workers never start more runs than the cap allows. Like `runDag` on an existing run,
 * failed tasks of a queued run (one re-queued after failing) are cleared to run again.
 */
export async function startQueuedRuns(store: Store, dags: readonly Dag[]): Promise<DagRun[]> {
  const { rows } = await store.query<{ dagId: string }>(
    `SELECT DISTINCT dag_id AS "dagId" FROM dag_runs WHERE state = 'queued' AND dag_id = ANY($1::text[])`,
    [dags.map((dag) => dag.id)],
  );
  const started: DagRun[] = [];
  for (const { dagId } of rows) {
    const dag = dags.find((candidate) => candidate.id === dagId);
    if (!dag) continue;
    for (;;) {
      const run = await store.transaction(async (tx) => {
        await lockDagForScheduling(tx, dag.id);
        const claimed = await claimQueuedRun(tx, dag.id, dag.maxActiveRuns);
        if (!claimed) return undefined;
        await clearTaskInstances(storeInTransaction(store, tx), claimed.id, {
          taskIds: dag.tasks.map((task) => task.id),
          onlyStates: ['failed', 'upstream_failed'],
        });
        // Clearing puts the run back to queued: it is ours, so running again.
        await startRun(tx, claimed.id);
        await skipRemovedTasks(tx, claimed.id, dag);
        await settleTaskInstances(tx, dag, claimed.id);
        await notifyWork(tx);
        return claimed;
      });
      if (!run) break;
      started.push(run);
    }
  }
  return started;
}

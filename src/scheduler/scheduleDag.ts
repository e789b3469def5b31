import { type DagRun, dataIntervalFor, formatLogicalDate } from '../dag/index.ts';
import { createOrGetRun } from '../dag/sql/createRun.ts';
import type { Dag } from '../dag/types.ts';
import type { Store } from '../store/index.ts';
import { planScheduledRuns } from './intervals.ts';
import { lockDagForScheduling, storeInTransaction } from './sql/dagLock.ts';
import { countActiveRuns, existingLogicalDates, lastScheduledLogicalDate } from './sql/scheduledRuns.ts';

export interface ScheduledRun {
  dagId: string;
  runId: number;
  logicalDate: string;
  dataInterval: { start: string; end: string };
}

/**
 * Creates the DAG's due runs (run_type 'scheduled') as of `now`: the missed intervals in order
 * with catch-up, else only the latest, within `maxActiveRuns`. One transaction under the DAG's
 * scheduling lock; runs go through createOrGetRun, so a run that exists is never duplicated.
 * A DAG without a schedule has no scheduled runs.
 */
export async function scheduleDueRuns(store: Store, dag: Dag, now: Date): Promise<ScheduledRun[]> {
  const schedule = dag.schedule;
  if (!schedule) return [];
  return store.transaction(async (tx) => {
    await lockDagForScheduling(tx, dag.id);
    const last = await lastScheduledLogicalDate(tx, dag.id);
    const activeRuns = await countActiveRuns(tx, dag.id);
    if (activeRuns >= dag.maxActiveRuns) return [];
    const existing = await existingLogicalDates(tx, dag.id, last);
    const planned = planScheduledRuns(
      { ...dag, schedule },
      {
        lastScheduledLogicalDate: last,
        now,
        activeRuns,
        runExists: (date) => existing.has(date.getTime()),
      },
    );
    const inTx = storeInTransaction(store, tx);
    const created: ScheduledRun[] = [];
    for (const interval of planned) {
      const { run, created: isNew } = await createOrGetRun(inTx, {
        dag,
        logicalDate: interval.start,
        interval: dataIntervalFor(dag, interval.start),
        conf: {},
        runType: 'scheduled',
      });
      if (isNew) created.push(describeScheduledRun(run, dag));
    }
    return created;
  });
}

export function describeScheduledRun(run: DagRun, dag: Pick<Dag, 'timezone'>): ScheduledRun {
  return {
    dagId: run.dagId,
    runId: run.id,
    logicalDate: formatLogicalDate(run.logicalDate, dag.timezone),
    dataInterval: { start: run.dataIntervalStart.toISOString(), end: run.dataIntervalEnd.toISOString() },
  };
}

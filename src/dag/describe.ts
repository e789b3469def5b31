import type { Queryable } from '../store/index.ts';
import { formatLogicalDate } from './interval.ts';
import type { DagRun } from './sql/rows.ts';
import { listTaskAttempts, listTaskInstances } from './sql/runQueries.ts';
import type { Dag, DagTrigger, JsonValue } from './types.ts';

/**
 * The JSON views of DAGs and runs that the CLI and the HTTP API both show, built in one place.
 */

export interface DagSummary {
  id: string;
  description: string;
  schedule: string | null;
  timezone: string;
  startDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  triggers: DagTrigger[];
  tasks: { id: string; deps: readonly string[]; retries: number; pool: string | null }[];
}

export function summarizeDag(dag: Dag): DagSummary {
  return {
    id: dag.id,
    description: dag.description,
    schedule: dag.schedule ?? null,
    timezone: dag.timezone,
    startDate: dag.startDate ?? null,
    catchup: dag.catchup,
    maxActiveRuns: dag.maxActiveRuns,
    triggers: dag.triggers.map((trigger) => ({ kafka: { ...trigger.kafka } })),
    tasks: dag.tasks.map((task) => ({
      id: task.id,
      deps: task.deps,
      retries: task.retries,
      pool: task.pool ?? null,
    })),
  };
}

export interface RunSummary {
  id: number;
  dagId: string;
  logicalDate: string;
  dataInterval: { start: string; end: string };
  state: DagRun['state'];
  runType: DagRun['runType'];
  conf: DagRun['conf'];
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
}

export interface TaskSummary {
  taskId: string;
  state: string;
  attempts: number;
  durationMs: number | null;
  error: string | null;
  outputs: JsonValue | null;
  history: {
    attempt: number;
    state: string;
    owner: string;
    startedAt: string;
    endedAt: string | null;
    error: string | null;
  }[];
}

export function summarizeRun(run: DagRun, timezone = 'UTC'): RunSummary {
  return {
    id: run.id,
    dagId: run.dagId,
    logicalDate: formatLogicalDate(run.logicalDate, timezone),
    dataInterval: { start: run.dataIntervalStart.toISOString(), end: run.dataIntervalEnd.toISOString() },
    state: run.state,
    runType: run.runType,
    conf: run.conf,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    endedAt: run.endedAt?.toISOString() ?? null,
    durationMs: run.startedAt && run.endedAt ? run.endedAt.getTime() - run.startedAt.getTime() : null,
  };
}

/** Every task of a run: state, attempts, duration of the last attempt, error, outputs, history. */
export async function summarizeTasks(db: Queryable, runId: number): Promise<TaskSummary[]> {
  const [instances, attempts] = await Promise.all([
    listTaskInstances(db, runId),
    listTaskAttempts(db, runId),
  ]);
  return instances.map((instance) => ({
    taskId: instance.taskId,
    state: instance.state,
    attempts: instance.tryNumber,
    durationMs:
      instance.startedAt && instance.endedAt
        ? instance.endedAt.getTime() - instance.startedAt.getTime()
        : null,
    error: instance.error,
    outputs: instance.outputs,
    history: attempts
      .filter((attempt) => attempt.taskId === instance.taskId)
      .map((attempt) => ({
        attempt: attempt.attempt,
        state: attempt.state,
        owner: attempt.owner,
        startedAt: attempt.startedAt.toISOString(),
        endedAt: attempt.endedAt?.toISOString() ?? null,
        error: attempt.error,
      })),
  }));
}

import { type DagRun, formatLogicalDate, listTaskAttempts, listTaskInstances } from '../dag/index.ts';
import type { JsonValue } from '../dag/types.ts';
import type { Queryable } from '../store/index.ts';

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

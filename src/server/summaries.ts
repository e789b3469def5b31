import { type DagRun, formatLogicalDate, type TaskInstance } from '../dag/index.ts';
import type { Dag, JsonObject, JsonValue } from '../dag/types.ts';

export interface RunBody {
  runId: number;
  dagId: string;
  logicalDate: string;
  dataInterval: { start: string; end: string };
  state: DagRun['state'];
  runType: DagRun['runType'];
  conf: JsonObject;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export interface TaskInstanceBody {
  taskId: string;
  state: TaskInstance['state'];
  attempts: number;
  upstream: string[];
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  outputs: JsonValue | null;
}

export function runBody(run: DagRun, timezone = 'UTC'): RunBody {
  return {
    runId: run.id,
    dagId: run.dagId,
    logicalDate: formatLogicalDate(run.logicalDate, timezone),
    dataInterval: { start: run.dataIntervalStart.toISOString(), end: run.dataIntervalEnd.toISOString() },
    state: run.state,
    runType: run.runType,
    conf: run.conf,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    endedAt: run.endedAt?.toISOString() ?? null,
  };
}

export function taskInstanceBody(instance: TaskInstance): TaskInstanceBody {
  return {
    taskId: instance.taskId,
    state: instance.state,
    attempts: instance.tryNumber,
    upstream: instance.upstream,
    startedAt: instance.startedAt?.toISOString() ?? null,
    endedAt: instance.endedAt?.toISOString() ?? null,
    error: instance.error,
    outputs: instance.outputs,
  };
}

export function dagBody(dag: Dag) {
  return {
    id: dag.id,
    description: dag.description,
    schedule: dag.schedule ?? null,
    timezone: dag.timezone,
    startDate: dag.startDate ?? null,
    catchup: dag.catchup,
    maxActiveRuns: dag.maxActiveRuns,
    tasks: dag.tasks.map((task) => ({ id: task.id, deps: task.deps, pool: task.pool ?? null })),
  };
}

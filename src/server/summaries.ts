import { type DagRun, type RunSummary, summarizeRun, type TaskInstance } from '../dag/index.ts';
import type { JsonValue } from '../dag/types.ts';

export type RunBody = Omit<RunSummary, 'id' | 'durationMs'> & { runId: number };

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

/** The API names a run's id `runId`; otherwise it is the same view as `runs show`. */
export function runBody(run: DagRun, timezone = 'UTC'): RunBody {
  const { id, durationMs: _durationMs, ...rest } = summarizeRun(run, timezone);
  return { runId: id, ...rest };
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

import { NightshiftError } from '../errors.ts';
import { assertTimeZone, cronError } from './cron.ts';
import { validateTriggers } from './triggers.ts';
import type { Dag, DagDefinition, JsonObject, ResolvedTask, TaskDefinition, TriggerRule } from './types.ts';

/** A DAG definition broke a rule; the loader adds the file name. */
export class DagDefinitionError extends NightshiftError {}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TRIGGER_RULES: readonly TriggerRule[] = ['all_success', 'none_failed', 'all_done'];

/**
 * Declares a DAG. Validates everything that can be checked without running it: ids, unknown
 * and duplicate tasks, cycles (the error prints the cycle), cron expression, time zone, dates,
 * retry settings and event triggers. Returns the DAG with defaults applied and tasks in topological order.
 */
export function defineDag<P extends JsonObject = JsonObject>(definition: DagDefinition<P>): Dag {
  const problems: string[] = [];
  if (typeof definition !== 'object' || definition === null) fail('defineDag expects an object');
  const { id } = definition;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    fail(
      `DAG id ${JSON.stringify(id)} is invalid: expected letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  const timezone = definition.timezone ?? 'UTC';
  try {
    assertTimeZone(timezone);
  } catch (error) {
    problems.push(`DAG '${id}': ${(error as Error).message}`);
  }
  if (definition.schedule !== undefined) {
    const message = cronError(definition.schedule, timezone);
    if (message) problems.push(`DAG '${id}': ${message}`);
  }
  if (definition.startDate !== undefined && !isIsoDate(definition.startDate)) {
    problems.push(`DAG '${id}': startDate '${definition.startDate}' is not a date: expected YYYY-MM-DD`);
  }
  const maxActiveRuns = definition.maxActiveRuns ?? 1;
  if (!Number.isInteger(maxActiveRuns) || maxActiveRuns < 1) {
    problems.push(`DAG '${id}': maxActiveRuns must be a positive integer, found ${maxActiveRuns}`);
  }
  const triggers = validateTriggers(id, definition.triggers);
  problems.push(...triggers.problems);
  if (!Array.isArray(definition.tasks) || definition.tasks.length === 0) {
    fail(`DAG '${id}' has no tasks: expected a non-empty 'tasks' array`);
  }

  const tasks = new Map<string, ResolvedTask>();
  for (const [index, task] of definition.tasks.entries()) {
    const where = `DAG '${id}', task #${index + 1}`;
    if (typeof task?.id !== 'string' || !ID_PATTERN.test(task.id)) {
      problems.push(`${where}: task id ${JSON.stringify(task?.id)} is invalid`);
      continue;
    }
    if (tasks.has(task.id)) {
      problems.push(`DAG '${id}': duplicate task id '${task.id}'`);
      continue;
    }
    if (typeof task.run !== 'function')
      problems.push(`DAG '${id}', task '${task.id}': 'run' must be a function`);
    if (task.check !== undefined && typeof task.check !== 'function')
      problems.push(`DAG '${id}', task '${task.id}': 'check' must be a function returning a promise`);
    if (task.shard !== undefined && typeof task.shard !== 'function')
      problems.push(
        `DAG '${id}', task '${task.id}': 'shard' must be a function (it runs one shard of ctx.shards)`,
      );
    const resolved = resolveTask(task as TaskDefinition<JsonObject>, definition.defaultTaskOptions);
    problems.push(...checkTask(id, resolved));
    tasks.set(task.id, resolved);
  }
  for (const task of tasks.values()) {
    for (const dep of task.deps) {
      if (!tasks.has(dep)) {
        problems.push(`DAG '${id}', task '${task.id}' depends on unknown task '${dep}'`);
      }
    }
  }
  if (problems.length > 0) fail(problems.join('; '));

  const order = topologicalOrder(tasks);
  if ('cycle' in order) fail(`DAG '${id}' has a cycle: ${order.cycle.join(' -> ')}`);
  const sorted = order.sorted.map((taskId) => tasks.get(taskId) as ResolvedTask);

  const downstream = new Map<string, string[]>(sorted.map((task) => [task.id, []]));
  for (const task of sorted) for (const dep of task.deps) downstream.get(dep)?.push(task.id);
  return {
    kind: 'nightshift.dag',
    id,
    description: definition.description ?? '',
    schedule: definition.schedule,
    timezone,
    startDate: definition.startDate,
    catchup: definition.catchup ?? false,
    maxActiveRuns,
    params: (definition.params ?? {}) as JsonObject,
    triggers: triggers.triggers,
    tasks: sorted,
    taskById: new Map(sorted.map((task) => [task.id, task])),
    downstream,
    leaves: sorted.filter((task) => downstream.get(task.id)?.length === 0).map((task) => task.id),
  };
}

function fail(message: string): never {
  throw new DagDefinitionError(message);
}

export function isDag(value: unknown): value is Dag {
  return typeof value === 'object' && value !== null && (value as Dag).kind === 'nightshift.dag';
}

function resolveTask(
  task: TaskDefinition<JsonObject>,
  defaults: DagDefinition['defaultTaskOptions'],
): ResolvedTask {
  return {
    id: task.id,
    description: task.description ?? '',
    deps: [...new Set(task.deps ?? [])],
    retries: task.retries ?? defaults?.retries ?? 0,
    retryDelayMs: task.retryDelayMs ?? defaults?.retryDelayMs ?? 1_000,
    retryBackoff: task.retryBackoff ?? defaults?.retryBackoff ?? 'exponential',
    maxRetryDelayMs: task.maxRetryDelayMs ?? defaults?.maxRetryDelayMs ?? 600_000,
    timeoutMs: task.timeoutMs ?? defaults?.timeoutMs,
    pool: task.pool ?? defaults?.pool,
    triggerRule: task.triggerRule ?? 'all_success',
    run: task.run,
    shard: task.shard,
    check: task.check,
  };
}

function checkTask(dagId: string, task: ResolvedTask): string[] {
  const where = `DAG '${dagId}', task '${task.id}'`;
  const problems: string[] = [];
  const nonNegativeInteger = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 0)
      problems.push(`${where}: ${name} must be a non-negative integer, found ${value}`);
  };
  nonNegativeInteger('retries', task.retries);
  nonNegativeInteger('retryDelayMs', task.retryDelayMs);
  nonNegativeInteger('maxRetryDelayMs', task.maxRetryDelayMs);
  if (task.timeoutMs !== undefined && (!Number.isInteger(task.timeoutMs) || task.timeoutMs <= 0)) {
    problems.push(`${where}: timeoutMs must be a positive integer, found ${task.timeoutMs}`);
  }
  if (!TRIGGER_RULES.includes(task.triggerRule)) {
    problems.push(
      `${where}: triggerRule '${task.triggerRule}' is unknown: expected one of ${TRIGGER_RULES.join(', ')}`,
    );
  }
  if (task.retryBackoff !== 'exponential' && task.retryBackoff !== 'fixed') {
    problems.push(`${where}: retryBackoff must be 'exponential' or 'fixed'`);
  }
  if (task.deps.includes(task.id)) problems.push(`${where} depends on itself`);
  return problems;
}

/** Kahn's order, stable in declaration order; on a cycle, returns one cycle's path. */
function topologicalOrder(
  tasks: ReadonlyMap<string, ResolvedTask>,
): { sorted: string[] } | { cycle: string[] } {
  const remaining = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const task of tasks.values()) {
    remaining.set(task.id, task.deps.length);
    for (const dep of task.deps) dependents.set(dep, [...(dependents.get(dep) ?? []), task.id]);
  }
  const ready = [...tasks.keys()].filter((taskId) => remaining.get(taskId) === 0);
  const sorted: string[] = [];
  while (ready.length > 0) {
    const taskId = ready.shift() as string;
    sorted.push(taskId);
    for (const next of dependents.get(taskId) ?? []) {
      const left = (remaining.get(next) ?? 0) - 1;
      remaining.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  if (sorted.length === tasks.size) return { sorted };
  return { cycle: findCycle(tasks, new Set(sorted)) };
}

function findCycle(tasks: ReadonlyMap<string, ResolvedTask>, acyclic: ReadonlySet<string>): string[] {
  // Depth-first along dependencies among the tasks Kahn's algorithm could not order.
  const onPath = new Map<string, number>();
  const path: string[] = [];
  const visited = new Set<string>();
  const visit = (taskId: string): string[] | undefined => {
    if (onPath.has(taskId)) {
      const cycle = path.slice(onPath.get(taskId));
      // Print in execution order: a -> b means b depends on a.
      return [...cycle, taskId].reverse();
    }
    if (visited.has(taskId) || acyclic.has(taskId)) return undefined;
    visited.add(taskId);
    onPath.set(taskId, path.length);
    path.push(taskId);
    for (const dep of tasks.get(taskId)?.deps ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    path.pop();
    onPath.delete(taskId);
    return undefined;
  };
  for (const taskId of tasks.keys()) {
    const found = visit(taskId);
    if (found) return found;
  }
  return [];
}

export function isIsoDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

import type { NightshiftConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Queryable, Store } from '../store/index.ts';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TASK_STATES = [
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'upstream_failed',
  'skipped',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  'success',
  'failed',
  'upstream_failed',
  'skipped',
]);

/**
 * When a task may start, given the states of its direct upstream tasks.
 * - `all_success` (default): every upstream succeeded. A failed upstream makes it
 *   `upstream_failed`; a skipped one makes it `skipped`.
 * - `none_failed`: every upstream succeeded or was skipped (for the task after a branch).
 * - `all_done`: every upstream finished, whatever the outcome (for clean-up and reports).
 */
export type TriggerRule = 'all_success' | 'none_failed' | 'all_done';

export interface DataInterval {
  /** Inclusive start: the run's logical date. */
  start: Date;
  /** Exclusive end. */
  end: Date;
}

/** What a task function receives. */
export interface TaskContext<P extends JsonObject = JsonObject> {
  dagId: string;
  taskId: string;
  runId: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** The start of the run's data interval. */
  logicalDate: Date;
  /** The logical date as `YYYY-MM-DD` in the DAG's time zone (the name Airflow users know). */
  ds: string;
  dataInterval: DataInterval;
  /** The DAG's `params` overridden by the run's `conf`. */
  params: P;
  /** The run's `conf` as given by its trigger. */
  conf: JsonObject;
  /** A child logger whose lines carry the DAG, run and task ids. */
  log: Logger;
  /** Aborted on timeout, on cancellation and when the lease is lost. Long work should check it. */
  signal: AbortSignal;
  /** The JSON outputs of the direct upstream tasks, by task id. */
  upstream: Readonly<Record<string, JsonValue>>;
  store: Store;
  /**
   * A transaction that commits only while this attempt still holds its lease (it locks the task
   * instance row and checks the fencing token first; a LeaseLostError otherwise). Writes with
   * effects beyond the task's own outputs, such as promoting a model, belong in one.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** This attempt's fencing token. */
  leaseToken: number;
  config: NightshiftConfig;
  /** Ends this task as `skipped` (its `all_success` downstream tasks are skipped too). */
  skip(reason: string): never;
  /**
   * Splits the task's work into shards that any worker may take (on any machine sharing the
   * database), each run by the task's `shard` function; this attempt works on them too and
   * returns their results in the order given. Shards done by an earlier attempt with the same
   * spec are not run again. A shard that fails `maxAttempts` times fails the task, naming it.
   */
  shards(shards: readonly ShardSpec[], options?: ShardOptions): Promise<JsonValue[]>;
}

/** One shard of a task's work: a name unique within the task, and what to do (JSON). */
export interface ShardSpec {
  name: string;
  spec: JsonValue;
}

export interface ShardOptions {
  /** Attempts per shard, lease expiries included (default 3). */
  maxAttempts?: number;
  /** Shards this attempt runs at once itself, besides what workers take (default 1; 0: none). */
  localConcurrency?: number;
  /** How often progress is read while waiting for other workers (default 250 ms). */
  pollMs?: number;
}

/**
 * What a task's `shard` function receives: the task context's view of the run, with the shard's
 * name. `attempt` counts the shard's attempts (1 for its first); `signal` aborts when the
 * shard's lease is lost or its process shuts down.
 */
export interface ShardContext<P extends JsonObject = JsonObject>
  extends Pick<
    TaskContext<P>,
    | 'dagId'
    | 'taskId'
    | 'runId'
    | 'attempt'
    | 'logicalDate'
    | 'ds'
    | 'dataInterval'
    | 'params'
    | 'conf'
    | 'log'
    | 'signal'
    | 'store'
    | 'config'
  > {
  shard: string;
}

export type ShardFunction<P extends JsonObject = JsonObject> = (
  spec: JsonValue,
  context: ShardContext<P>,
) => Promise<TaskOutputs> | TaskOutputs;

/** A task returns small JSON outputs for its downstream tasks, or nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: lets a task function be `() => { sideEffect(); }`.
export type TaskOutputs = JsonValue | undefined | void;

export type TaskFunction<P extends JsonObject = JsonObject> = (
  context: TaskContext<P>,
) => Promise<TaskOutputs> | TaskOutputs;

export interface RetryPolicy {
  /** Retries after the first attempt (default 0). */
  retries?: number;
  /** Delay before the first retry (default 1000 ms). */
  retryDelayMs?: number;
  /** `exponential` doubles the delay on each retry (default); `fixed` keeps it. */
  retryBackoff?: 'exponential' | 'fixed';
  /** Cap on the delay between retries (default 10 minutes). */
  maxRetryDelayMs?: number;
}

export interface TaskDefinition<P extends JsonObject = JsonObject> extends RetryPolicy {
  id: string;
  description?: string;
  deps?: readonly string[];
  /** The attempt is aborted and fails (retriably) after this long. */
  timeoutMs?: number;
  /** A named pool whose slots cap the concurrent tasks that use it. */
  pool?: string;
  triggerRule?: TriggerRule;
  run: TaskFunction<P>;
  /** Runs one shard of the work `run` splits with `ctx.shards` (on whichever worker takes it). */
  shard?: ShardFunction<P>;
  /**
   * A check that needs asynchronous work (loading a pipeline's modules), run once when the DAG
   * file loads: its error fails the load, naming the file, so `dags list`, the scheduler and
   * `run` refuse a broken DAG before any night starts.
   */
  check?: () => Promise<void>;
}

/**
 * Starts the DAG's run for a date when a message names it: each JSON message's `dateField`
 * (`YYYY-MM-DD`, or an ISO 8601 instant taken as its date in the DAG's time zone) starts the
 * run for that date, once. `nightshift scheduler` consumes the topic.
 */
export interface KafkaTriggerDefinition {
  kafka: {
    /** The topic to consume (it must exist: the scheduler does not create it). */
    topic: string;
    /** The JSON field of each message that holds the date. */
    dateField: string;
  };
}

/** What may start a DAG's runs besides its schedule and manual triggers. */
export type DagTrigger = KafkaTriggerDefinition;

export interface DagDefinition<P extends JsonObject = JsonObject> {
  id: string;
  description: string;
  /** A cron expression (5 fields, or @daily, @hourly, ...). Absent: runs only when triggered. */
  schedule?: string;
  /** IANA time zone of the schedule and of `--date` (default UTC). */
  timezone?: string;
  /** First logical date the scheduler considers, `YYYY-MM-DD`. */
  startDate?: string;
  /** Create runs for intervals missed since the last run (default false). */
  catchup?: boolean;
  /** Runs of this DAG allowed at once (default 1). */
  maxActiveRuns?: number;
  /** Default parameters, overridden per run by `conf`. */
  params?: P;
  /** Retry and timeout defaults for every task. */
  defaultTaskOptions?: RetryPolicy & { timeoutMs?: number; pool?: string };
  /** Event triggers: `[{ kafka: { topic, dateField } }]`. */
  triggers?: readonly DagTrigger[];
  tasks: readonly TaskDefinition<P>[];
}

/** A task with every default applied. */
export interface ResolvedTask {
  id: string;
  description: string;
  deps: readonly string[];
  retries: number;
  retryDelayMs: number;
  retryBackoff: 'exponential' | 'fixed';
  maxRetryDelayMs: number;
  timeoutMs: number | undefined;
  pool: string | undefined;
  triggerRule: TriggerRule;
  run: TaskFunction<JsonObject>;
  shard: ShardFunction<JsonObject> | undefined;
  check: (() => Promise<void>) | undefined;
}

/** A validated DAG, as `defineDag` returns it. */
export interface Dag {
  readonly kind: 'nightshift.dag';
  id: string;
  description: string;
  schedule: string | undefined;
  timezone: string;
  startDate: string | undefined;
  catchup: boolean;
  maxActiveRuns: number;
  params: JsonObject;
  /** Event triggers, as declared (validated). */
  triggers: readonly DagTrigger[];
  /** In a topological order. */
  tasks: readonly ResolvedTask[];
  taskById: ReadonlyMap<string, ResolvedTask>;
  /** Direct downstream task ids, by task id. */
  downstream: ReadonlyMap<string, readonly string[]>;
  /** Tasks nothing depends on: they decide the run's state. */
  leaves: readonly string[];
  /** The file it was loaded from, when loaded from a folder. */
  file?: string;
}

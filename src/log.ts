import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

export type { Logger } from 'pino';

export type LogBindings = Record<string, string | number | undefined>;

/**
 * The ids of the task (or shard) whose code is running: every line logged inside it carries
 * them, whichever logger wrote it and whenever that logger was made (training, scoring, data
 * preparation and validation code make their own, knowing nothing of tasks).
 */
const logContext = new AsyncLocalStorage<LogBindings>();

/** Runs `fn` with `bindings` on every log line written inside it (nested calls add to them). */
export function withLogBindings<T>(bindings: LogBindings, fn: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...bindings }, fn);
}

/** The bindings of the code running now, to hand to a worker thread or a callback run later. */
export function currentLogBindings(): LogBindings {
  return { ...logContext.getStore() };
}

/** Adds the running task's ids to a line, except those its logger already carries. */
function contextFields(_object: object, _level: number, logger: Logger): LogBindings {
  const context = logContext.getStore();
  if (context === undefined) return {};
  const bound = logger.bindings();
  const fields: LogBindings = {};
  for (const [key, value] of Object.entries(context)) if (!(key in bound)) fields[key] = value;
  return fields;
}

/**
 * The one logger. JSON lines when stderr is not a terminal (for collectors), readable lines when
 * it is. Logs go to stderr so that `--json` output on stdout stays machine-readable.
 * Child loggers carry the ids of the DAG, run, task and shard a line belongs to.
 */
function createRootLogger(): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  const pretty = process.stderr.isTTY && process.env.NIGHTSHIFT_LOG_FORMAT !== 'json';
  if (pretty) {
    // In the main thread and synchronous (not a transport worker), so that log lines and the
    // command's own output appear in the order they happened.
    const stream = PinoPretty({
      destination: 2,
      sync: true,
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      // One line per event, led by the ids it belongs to: "example run 3 train#2: task started".
      singleLine: true,
      messageFormat:
        '{if dag}{dag}{end}{if run} run {run}{end}{if task} {task}{end}{if attempt}#{attempt}{end}{if shard} shard {shard}{end}: {msg}',
      ignore: 'pid,hostname,dag,run,task,attempt,shard',
    });
    return pino({ level, base: undefined, mixin: contextFields }, stream);
  }
  return pino(
    { level, base: { pid: process.pid }, mixin: contextFields },
    pino.destination({ dest: 2, sync: true }),
  );
}

let root: Logger | undefined;

export function rootLogger(): Logger {
  root ??= createRootLogger();
  return root;
}

export function childLogger(bindings: LogBindings): Logger {
  return rootLogger().child(bindings);
}

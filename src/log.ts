import pino, { type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

export type { Logger } from 'pino';

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
    return pino({ level, base: undefined }, stream);
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

let root: Logger | undefined;

export function rootLogger(): Logger {
  root ??= createRootLogger();
  return root;
}

export function childLogger(bindings: Record<string, string | number | undefined>): Logger {
  return rootLogger().child(bindings);
}

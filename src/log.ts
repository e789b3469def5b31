import pino, { type Logger } from 'pino';

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
    return pino({
      level,
      base: undefined,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
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

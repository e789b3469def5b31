import type { Command } from 'commander';
import { type ConfigOverrides, loadConfig, type NightshiftConfig } from '../config.ts';
import { UsageError } from '../errors.ts';
import { openStore, type Store } from '../store/index.ts';

/**
 * Exit codes: 0 success, 1 a failed run or an operational error, 2 bad usage, 3 refused by the
 * registry's state (already champion, nothing to roll back to, never blessed).
 */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_REFUSED = 3;

/** The configuration with the global flags (`--home`, `--dags`, `--data`) applied. */
export function configFrom(command: Command): NightshiftConfig {
  const globals = command.optsWithGlobals<{ home?: string; dags?: string; data?: string }>();
  const overrides: ConfigOverrides = { home: globals.home, dagsDir: globals.dags, dataDir: globals.data };
  return loadConfig(overrides);
}

/** Opens the store, runs `fn`, closes the store whatever happens. */
export async function withStore<T>(config: NightshiftConfig, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Run ids are Postgres integers: a larger number is bad usage, not a database error. */
export const MAX_RUN_ID = 2 ** 31 - 1;

export function parseRunId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_RUN_ID) {
    throw new UsageError(
      `invalid run id '${value}': expected a positive integer up to ${MAX_RUN_ID} (see 'runs list')`,
    );
  }
  return Number(value);
}

export function parsePositiveInteger(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new UsageError(`invalid ${name} '${value}': expected a positive integer up to ${max}`);
    }
    return Number(value);
  };
}

/**
 * Ctrl-C (or SIGTERM) aborts the returned signal once, so that running tasks are handed back;
 * a second one exits at once. `dispose` removes the handlers.
 */
export function interruptSignal(message: string): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`stopping: ${message} (Ctrl-C again to exit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

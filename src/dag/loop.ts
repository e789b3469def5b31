/**
 * Pieces of an executor's loop (runDag for one run, a worker across runs), kept in one place so
 * that both stop and wait the same way.
 */

/**
 * At the top of each turn: after a failure the executor could not ride out (a database error),
 * hands the running attempts back and waits for them, so that nothing keeps running (and
 * committing) after it returns, then rethrows; once stopped, waits for them and says so.
 */
export async function stopping(
  failure: unknown,
  shutdown: AbortController,
  active: ReadonlyMap<number, { done: Promise<unknown> }>,
): Promise<boolean> {
  if (failure) {
    shutdown.abort(failure);
    await Promise.allSettled([...active.values()].map((entry) => entry.done));
    throw failure;
  }
  if (!shutdown.signal.aborted) return false;
  await Promise.allSettled([...active.values()].map((entry) => entry.done));
  return true;
}

/**
 * Sleeps until `waitMs` pass (then `onTimeout`), the function handed to `setWake` is called (an
 * attempt ended, a notification came), or `signal` aborts.
 */
export function sleepUntilWoken(
  waitMs: number,
  signal: AbortSignal,
  setWake: (wake: () => void) => void,
  onTimeout?: () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(() => {
      onTimeout?.();
      finish();
    }, waitMs);
    setWake(finish);
    signal.addEventListener('abort', finish, { once: true });
  });
}

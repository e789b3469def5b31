/**
 * Errors worth retrying a statement for: the connection dropped or the server is restarting, a
 * deadlock or serialisation failure rolled the transaction back, or the server is out of
 * connections for a moment. Anything else (a constraint, a syntax error) fails at once.
 */
export function isTransientDbError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('08') || // connection exceptions
    code === '40001' || // serialization_failure
    code === '40P01' || // deadlock_detected
    code === '53300' || // too_many_connections
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    code === 'ECONNRESET' ||
    code === 'ECONNREFUSED' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT'
  );
}

/**
 * Runs `fn` again after a transient database error, with exponential backoff (100 ms, 200 ms,
 * ...), up to `attempts` times. Safe only for work that is idempotent or wholly rolled back.
 */
export async function withTransientRetry<T>(
  fn: () => Promise<T>,
  attempts = 5,
  baseDelayMs = 100,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransientDbError(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, baseDelayMs * 2 ** (attempt - 1)));
    }
  }
}

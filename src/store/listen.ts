import pg from 'pg';
import { type Logger, rootLogger } from '../log.ts';

/** The first wait before reconnecting a lost LISTEN connection, doubled per failure up to the max. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * LISTEN on a connection of its own (a pooled one would be handed to other queries). When the
 * connection drops (a restarted server, a terminated backend, a network cut), it reconnects
 * with backoff and listens again, logging both; callers' polling covers the gap, and `onNotify`
 * is called once after listening again, for what was sent meanwhile. Without this, a worker
 * fell back to polling for the rest of its life without a word.
 */
export async function listenOn(
  connectionString: string,
  channel: string,
  onNotify: () => void,
  log: Logger = rootLogger().child({ component: 'listen' }),
): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel))
    throw new Error(`listen: channel '${channel}' is not a plain identifier`);
  let stopped = false;
  let current: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;

  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString });
    // Both fire for one loss; only the connected client's first one counts.
    const onLost = (error?: Error) => {
      if (current !== client) return;
      current = undefined;
      void client.end().catch(() => {});
      if (stopped) return;
      log.warn(
        { channel, err: error?.message ?? 'connection ended' },
        'notification connection lost; reconnecting (polling meanwhile)',
      );
      scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (stopped) {
      await client.end().catch(() => {});
      return;
    }
    current = client;
  };

  const scheduleReconnect = () => {
    retry = setTimeout(() => {
      connect().then(
        () => {
          if (stopped) return;
          delay = RECONNECT_MIN_MS;
          log.info({ channel }, 'listening for notifications again');
          onNotify();
        },
        (error: unknown) => {
          if (stopped) return;
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
          log.warn(
            { channel, err: (error as Error).message, retryInMs: delay },
            'cannot listen for notifications yet; retrying',
          );
          scheduleReconnect();
        },
      );
    }, delay);
    retry.unref();
  };

  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const client = current;
    current = undefined;
    await client?.end().catch(() => {});
  };
}

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { NightshiftError, StoreLockedError } from '../errors.ts';
import { describeHolder, type HeldLock, type LockInfo, tryAcquireLock } from './lock.ts';
import { Mutex } from './mutex.ts';
import { createPostgresStore } from './postgres.ts';
import { startSocketServer } from './socketServer.ts';
import type { Queryable, QueryResult, Row, Store } from './types.ts';

const INT8_OID = 20;
const DATE_OID = 1082;
const parsers = {
  [INT8_OID]: (value: string) => Number(value),
  [DATE_OID]: (value: string) => value,
};

export interface EmbeddedStoreOptions {
  /** `NIGHTSHIFT_HOME`: the database lives in `<home>/pglite`. */
  home: string;
  /**
   * Serve the store on a loopback TCP port so that other processes (say `runs list` while `run`
   * is going) can connect through the lock file. On by default.
   */
  serve?: boolean;
  /**
   * How long to wait for a starting holder to publish its socket (default 60 s: creating a new
   * embedded database takes about 9 s here, more on a loaded machine).
   */
  connectTimeoutMs?: number;
}

export function embeddedPaths(home: string): { dataDir: string; lockPath: string } {
  const dataDir = path.join(home, 'pglite');
  return { dataDir, lockPath: path.join(home, 'pglite.lock') };
}

/**
 * Opens the embedded store. The first process takes the folder lock and opens PGlite; a later
 * process finds the holder through the lock file and connects to the socket it serves, so that
 * reads (and small writes) work while the holder runs. Heavy multi-process use belongs on
 * Postgres (`DATABASE_URL`).
 */
export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<Store> {
  const { dataDir, lockPath } = embeddedPaths(options.home);
  const deadline = Date.now() + (options.connectTimeoutMs ?? 60_000);
  let firstConnectFailure: number | undefined;
  for (;;) {
    const attempt = tryAcquireLock(lockPath);
    if (attempt.lock) return openHolder(dataDir, attempt.lock, options.serve ?? true);
    const holder = attempt.heldBy as LockInfo;
    if (holder.socket) {
      try {
        return await connectToHolder(holder, options.home);
      } catch (error) {
        // The holder may be closing: its lock goes away in a moment and is taken on a later
        // pass. A holder that keeps refusing for ten seconds is reported.
        firstConnectFailure ??= Date.now();
        if (Date.now() - firstConnectFailure > 10_000 || Date.now() > deadline) {
          throw lockedError(options.home, holder, error);
        }
      }
    } else if (Date.now() > deadline) {
      throw lockedError(options.home, holder);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function lockedError(home: string, holder: LockInfo, cause?: unknown): StoreLockedError {
  const reason = cause instanceof Error ? `; connecting to its socket failed: ${cause.message}` : '';
  return new StoreLockedError(
    `the embedded store at ${home} is held by ${describeHolder(holder)}${reason}. ` +
      'The embedded store serves one process; set DATABASE_URL to a Postgres server for multi-process use.',
    { cause },
  );
}

async function connectToHolder(holder: LockInfo, home: string): Promise<Store> {
  const socket = holder.socket as NonNullable<LockInfo['socket']>;
  const url = `postgres://nightshift:${encodeURIComponent(socket.password ?? '')}@${socket.host}:${socket.port}/postgres`;
  const store = createPostgresStore(url, {
    max: 1,
    kind: 'embedded-client',
    description: `embedded store at ${home} (through pid ${holder.pid})`,
  });
  await store.query('SELECT 1');
  return store;
}

async function openHolder(dataDir: string, lock: HeldLock, serve: boolean): Promise<Store> {
  let db: PGlite;
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    db = await PGlite.create({ dataDir, parsers });
  } catch (error) {
    lock.release();
    throw new NightshiftError(
      `the embedded database at ${dataDir} failed to open (${(error as Error).message}); if it is damaged, move the folder aside to start afresh, or set DATABASE_URL to use Postgres`,
      { cause: error },
    );
  }

  // PGlite has one session: local callers and socket clients take turns through `gate`
  // (see socketServer.ts for why a turn is a whole query cycle).
  const gate = new Mutex();
  // Any local user can reach a loopback port: clients need this password, which only the lock
  // file's owner can read (mode 0600).
  const password = randomBytes(32).toString('base64url');
  const server = serve ? await startSocketServer(db, gate, password) : undefined;
  if (server) lock.update({ socket: { host: '127.0.0.1', port: server.port, password } });

  const releaseOnExit = () => lock.release();
  process.once('exit', releaseOnExit);

  const local: Queryable = {
    query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      return gate.run(() => runQuery<R>(db, sql, params));
    },
  };
  let closed = false;
  return {
    kind: 'embedded',
    description: `embedded store at ${path.dirname(dataDir)}`,
    query: local.query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return gate.run(() => db.transaction((tx) => fn(wrapTransaction(tx))));
    },
    withSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
      // The whole session holds the gate: nothing else runs on PGlite's one session meanwhile.
      return gate.run(() =>
        fn({
          query: <R extends object = Row>(sql: string, params?: readonly unknown[]) =>
            runQuery<R>(db, sql, params),
        }),
      );
    },
    async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
      const unlisten = await gate.run(() => db.listen(channel, () => onNotify()));
      return () => (closed ? Promise.resolve() : gate.run(() => unlisten()));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await server?.stop();
      await gate.run(() => db.close());
      lock.release();
      process.removeListener('exit', releaseOnExit);
    },
  };
}

async function runQuery<R extends object>(
  db: PGlite | Transaction,
  sql: string,
  params?: readonly unknown[],
): Promise<QueryResult<R>> {
  if (params === undefined || params.length === 0) {
    // Without parameters, allow several statements (migrations) like pg's simple protocol does.
    if (!/^\s*(select|with|insert|update|delete)\b/i.test(sql)) {
      const results = await db.exec(sql);
      const last = results[results.length - 1];
      const rows = (last?.rows ?? []) as R[];
      return { rows, rowCount: Math.max(last?.affectedRows ?? 0, rows.length) };
    }
  }
  const result = await db.query<R>(sql, params as unknown[] | undefined);
  // PGlite reports affectedRows 0 for a SELECT that returned rows; pg's rowCount counts them.
  return { rows: result.rows, rowCount: Math.max(result.affectedRows ?? 0, result.rows.length) };
}

function wrapTransaction(tx: Transaction): Queryable {
  return {
    query: <R extends object = Row>(sql: string, params?: readonly unknown[]) => runQuery<R>(tx, sql, params),
  };
}

import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../log.ts';
import { listenOn } from './listen.ts';
import type { Queryable, QueryResult, Row, Store, StoreKind } from './types.ts';

// Parse the types whose default representation differs between pg and PGlite, so that both
// stores hand the same values to the code above them.
const INT8_OID = 20;
const DATE_OID = 1082;
const typeOverrides = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    if (oid === DATE_OID) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

// Parameterised statements are prepared once per connection under a name derived from their
// text: planning the claim query took longer than running it (2 ms against 0.8 ms on a loaded
// 2-core machine). The SQL texts are static (lists travel as array parameters), so the set of
// names stays small. Not through the embedded store's socket: there every client shares
// PGlite's one session, where a second client's PREPARE of the same name would fail.
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `ns_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name;
}

function wrap(client: pg.Pool | pg.PoolClient, prepare: boolean): Queryable {
  return {
    async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const prepared = prepare && params !== undefined && params.length > 0;
      const raw = await client.query<R>({
        text: sql,
        values: params as unknown[] | undefined,
        types: typeOverrides,
        ...(prepared ? { name: statementName(sql) } : {}),
      });
      // Several statements without parameters (a migration) give one result each: keep the last.
      const result = (Array.isArray(raw) ? raw[raw.length - 1] : raw) as pg.QueryResult<R> | undefined;
      const rows = result?.rows ?? [];
      return { rows, rowCount: result?.rowCount ?? rows.length };
    },
  };
}

export interface PostgresStoreOptions {
  /** Connections in the pool. */
  max?: number;
  kind?: StoreKind;
  description?: string;
  /** Called once when the store is closed (used by the embedded client to release resources). */
  onClose?: () => Promise<void>;
  /** Where the LISTEN connection logs its losses and reconnections (default: the root logger). */
  log?: Logger;
}

/**
 * Takes a client from the pool for a transaction or a session. The pool stops listening for a
 * checked-out client's errors, and pg emits a dropped connection as an 'error' event even when
 * the query in flight is rejected with it: unheard, that event kills the process (seen when an
 * embedded store's holder went away under `runs list`). Heard here, the statements fail instead,
 * and the broken client is discarded on release.
 */
async function checkOut(pool: pg.Pool): Promise<{ client: pg.PoolClient; release: () => void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  return {
    client,
    release() {
      client.removeListener('error', onError);
      client.release(broken);
    },
  };
}

/**
 * Redacts the passwords of a connection string for logs and messages: the one in the user info
 * and the query's `password` and `sslpassword` (pg reads both forms).
 */
export function describeConnectionString(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (/password/i.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return 'postgres (unparseable DATABASE_URL)';
  }
}

export function createPostgresStore(connectionString: string, options: PostgresStoreOptions = {}): Store {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  // An idle client that loses its connection emits 'error' on the pool; without a listener the
  // process would crash. The next query gets a fresh connection and reports its own error.
  pool.on('error', () => {});
  const prepare = (options.kind ?? 'postgres') === 'postgres';
  const base = wrap(pool, prepare);
  let closed = false;
  return {
    kind: options.kind ?? 'postgres',
    description: options.description ?? describeConnectionString(connectionString),
    query: base.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const { client, release } = await checkOut(pool);
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client, prepare));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        release();
      }
    },
    async withSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
      const { client, release } = await checkOut(pool);
      try {
        return await fn(wrap(client, prepare));
      } finally {
        release();
      }
    },
    ...(prepare
      ? {
          async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
            return listenOn(connectionString, channel, onNotify, options.log);
          },
        }
      : {}),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
      await options.onClose?.();
    },
  };
}

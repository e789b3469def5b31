/** A row as returned by the driver: column name to parsed value. */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends object = Row> {
  rows: R[];
  /** Rows inserted, updated, deleted or returned. */
  rowCount: number;
}

/** Anything that runs parameterised SQL (`$1`, `$2`, ...): a store, a transaction, a session. */
export interface Queryable {
  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export type StoreKind = 'postgres' | 'embedded' | 'embedded-client';

/**
 * The one database interface. Postgres (`pg`) and the embedded default (PGlite) implement it with
 * the same SQL and the same migrations. Values come back parsed the same way from both:
 * int8 as number, timestamptz as Date, json/jsonb parsed, date as 'YYYY-MM-DD' text.
 */
export interface Store extends Queryable {
  readonly kind: StoreKind;
  /** Where the data lives, for logs and error messages (never includes a password). */
  readonly description: string;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs `fn` on one dedicated session, for session state such as advisory locks. */
  withSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` on each NOTIFY on `channel` (sent by any process) until the returned function
   * is called. Absent where the store cannot deliver notifications (a client of the embedded
   * store's socket): callers fall back to polling.
   */
  listen?(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

import type { Queryable, Store } from '../../store/index.ts';

// Two-key advisory locks live apart from the one-key lock the migrations take.
const SCHEDULER_LOCK_SPACE = 7_242;

/**
 * Serialises scheduling decisions for one DAG until the transaction ends: two schedulers read
 * "active runs" and create runs one after the other, so the cap on active runs holds exactly
 * (the unique constraint alone already rules out duplicate runs).
 */
export async function lockDagForScheduling(tx: Queryable, dagId: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SCHEDULER_LOCK_SPACE, dagId]);
}

/**
 * A Store view of an open transaction, for engine functions that take a Store and open their own
 * transaction (createOrGetRun, clearTaskInstances): their work joins this transaction instead.
 */
export function storeInTransaction(parent: Store, tx: Queryable): Store {
  return {
    kind: parent.kind,
    description: parent.description,
    query: (sql, params) => tx.query(sql, params),
    transaction: (fn) => fn(tx),
    withSession: (fn) => fn(tx),
    close: async () => {},
  };
}

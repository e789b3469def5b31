import { UsageError } from '../errors.ts';
import type { Queryable } from '../store/index.ts';

export interface PoolRow {
  name: string;
  slots: number;
  description: string;
  /** Task instances of the pool running now (leases live or not yet taken over). */
  running: number;
  /** Task instances of the pool waiting for a slot. */
  queued: number;
}

/** What a pool may be called: `pools set` and `worker --pools` check names against it. */
export const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export async function listPools(db: Queryable): Promise<PoolRow[]> {
  const { rows } = await db.query<PoolRow>(
    `SELECT p.name, p.slots, p.description,
            count(t.task_id) FILTER (WHERE t.state = 'running')::int AS running,
            count(t.task_id) FILTER (WHERE t.state IN ('queued', 'up_for_retry'))::int AS queued
     FROM pools p
     LEFT JOIN task_instances t ON t.pool = p.name AND t.state IN ('running', 'queued', 'up_for_retry')
     GROUP BY p.name, p.slots, p.description
     ORDER BY p.name`,
  );
  return rows;
}

export async function setPool(
  db: Queryable,
  pool: { name: string; slots: number; description?: string },
): Promise<void> {
  if (!POOL_NAME.test(pool.name))
    throw new UsageError(
      `invalid pool name '${pool.name}': expected letters, digits, '_', '.', '-' (at most 63)`,
    );
  if (!Number.isSafeInteger(pool.slots) || pool.slots < 0)
    throw new UsageError(`invalid slots ${pool.slots} for pool '${pool.name}': expected a whole number >= 0`);
  await db.query(
    `INSERT INTO pools (name, slots, description) VALUES ($1, $2, coalesce($3, ''))
     ON CONFLICT (name) DO UPDATE SET slots = EXCLUDED.slots,
       description = coalesce($3, pools.description)`,
    [pool.name, pool.slots, pool.description ?? null],
  );
}

export async function deletePool(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM pools WHERE name = $1', [name]);
  return rowCount > 0;
}

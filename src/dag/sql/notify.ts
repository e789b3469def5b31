import type { Queryable } from '../../store/index.ts';

/**
 * The channel on which the engine says "there may be work": a run was created or started, or a
 * commit queued tasks. Workers LISTEN on it to claim at once instead of at their next poll.
 * Sent inside the writer's transaction, it is delivered when (and only if) that commits.
 */
export const WORK_CHANNEL = 'nightshift_work';

export async function notifyWork(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${WORK_CHANNEL}', '')`);
}

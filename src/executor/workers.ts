import os from 'node:os';
import type { Queryable } from '../store/index.ts';

/** A worker that has not heartbeated for this long is taken for gone. */
export const WORKER_LIVENESS_MS = 20_000;

export interface WorkerRegistration {
  id: string;
  pools: readonly string[] | null;
  concurrency: number;
  dagIds: readonly string[];
}

export interface WorkerRow {
  id: string;
  hostname: string;
  pid: number;
  pools: string[] | null;
  concurrency: number;
  dags: string[];
  startedAt: Date;
  heartbeatAt: Date;
  stoppedAt: Date | null;
  tasksDone: number;
  live: boolean;
}

/** Rows of workers that stopped (or vanished) longer ago than this are removed. */
export const WORKER_HISTORY_DAYS = 7;

export async function registerWorker(db: Queryable, worker: WorkerRegistration): Promise<void> {
  // One row per worker start: the history is kept a week, so that the table stays small.
  await db.query(
    `DELETE FROM workers WHERE coalesce(stopped_at, heartbeat_at) < now() - $1 * interval '1 day'`,
    [WORKER_HISTORY_DAYS],
  );
  await db.query(
    `INSERT INTO workers (id, hostname, pid, pools, concurrency, dags) VALUES ($1, $2, $3, $4, $5, $6)`,
    [worker.id, os.hostname(), process.pid, worker.pools, worker.concurrency, worker.dagIds],
  );
}

export async function heartbeatWorker(db: Queryable, id: string, tasksDone: number): Promise<void> {
  await db.query(`UPDATE workers SET heartbeat_at = now(), tasks_done = $2 WHERE id = $1`, [id, tasksDone]);
}

export async function deregisterWorker(db: Queryable, id: string, tasksDone: number): Promise<void> {
  await db.query(`UPDATE workers SET stopped_at = now(), tasks_done = $2 WHERE id = $1`, [id, tasksDone]);
}

/** Workers, live ones first; `live` means it heartbeated within WORKER_LIVENESS_MS and has not stopped. */
export async function listWorkers(db: Queryable, options: { all?: boolean } = {}): Promise<WorkerRow[]> {
  const { rows } = await db.query<WorkerRow>(
    `SELECT id, hostname, pid, pools, concurrency, dags, started_at AS "startedAt",
            heartbeat_at AS "heartbeatAt", stopped_at AS "stoppedAt", tasks_done AS "tasksDone",
            (stopped_at IS NULL AND heartbeat_at > now() - $1 * interval '1 millisecond') AS live
     FROM workers
     WHERE $2 OR (stopped_at IS NULL AND heartbeat_at > now() - $1 * interval '1 millisecond')
     ORDER BY live DESC, started_at DESC
     LIMIT 200`,
    [WORKER_LIVENESS_MS, options.all ?? false],
  );
  return rows;
}

/** Live workers that can execute this DAG. */
export async function countLiveWorkers(db: Queryable, dagId?: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM workers
     WHERE stopped_at IS NULL AND heartbeat_at > now() - $1 * interval '1 millisecond'
       AND ($2::text IS NULL OR $2 = ANY(dags))`,
    [WORKER_LIVENESS_MS, dagId ?? null],
  );
  return rows[0]?.count ?? 0;
}

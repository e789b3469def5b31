import { fileShardJob, type ShardJobSpec } from './batch.ts';
import { ScoringPool } from './pool.ts';
import type { FileShardResult } from './protocol.ts';

/**
 * Scoring pools of this process, kept between shards of the same model version: a worker
 * process scoring shard after shard of a day loads the model once. Keyed by artifact, its
 * registered sum and the pool size.
 */
const pools = new Map<string, { pool: ScoringPool; inFlight: number; idle?: NodeJS.Timeout }>();

/** How long an idle pool is kept for the next shard before its threads are stopped. */
const IDLE_MS = 5_000;

/**
 * Scores one shard (as planned by scoreBatch and handed out by `ctx.shards`) on this process's
 * pool for its model, writing its output and sidecar under the shard's output directory, which
 * every worker must reach (a shared volume).
 */
export async function scoreShardHere(spec: ShardJobSpec): Promise<FileShardResult> {
  const key = `${spec.artifactDir}|${spec.manifestSha256 ?? ''}|${spec.workers}|${spec.microBatch ?? ''}|${spec.backend ?? ''}`;
  let entry = pools.get(key);
  if (!entry) {
    entry = {
      pool: ScoringPool.start({
        artifactDir: spec.artifactDir,
        manifestSha256: spec.manifestSha256,
        workers: spec.workers,
        microBatch: spec.microBatch,
        backend: spec.backend,
      }),
      inFlight: 0,
    };
    pools.set(key, entry);
    // A pool that cannot load the model is not kept: the next shard tries afresh.
    const started = entry;
    entry.pool.started.catch(() => {
      if (pools.get(key) === started) pools.delete(key);
      void started.pool.close();
    });
  }
  const current = entry;
  clearTimeout(current.idle);
  current.inFlight++;
  try {
    return (await current.pool.submit({
      shard: spec.shard.name,
      job: (attempt) => fileShardJob(spec, attempt),
    })) as FileShardResult;
  } finally {
    current.inFlight--;
    if (current.inFlight === 0) {
      current.idle = setTimeout(() => void closePool(key), IDLE_MS);
      current.idle.unref();
    }
  }
}

async function closePool(key: string): Promise<void> {
  const entry = pools.get(key);
  if (!entry || entry.inFlight > 0) return;
  pools.delete(key);
  clearTimeout(entry.idle);
  await entry.pool.close();
}

/** Stops the pools no shard is using now (the planner does when its task ends). */
export async function closeIdleScoringPools(): Promise<void> {
  await Promise.all([...pools.keys()].map((key) => closePool(key)));
}

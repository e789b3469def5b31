import { planRowShards } from './plan.ts';
import type { ScoringPool } from './pool.ts';
import type { RowsResult } from './protocol.ts';

/**
 * Scores rows held in memory across the pool (the model-only rate: no Parquet on either side).
 * Shards default to an even split over the workers; results land at their rows' offsets.
 */
export async function scoreRowsSharded(
  pool: ScoringPool,
  features: Float32Array,
  rowCount: number,
  featureCount: number,
  shardRows = Math.ceil(rowCount / pool.size),
): Promise<Float32Array> {
  const scores = new Float32Array(rowCount);
  if (rowCount === 0) return scores;
  const shards = planRowShards(rowCount, shardRows);
  await Promise.all(
    shards.map(async (shard) => {
      const result = (await pool.submit({
        shard: shard.name,
        // A copy per attempt: it is transferred to the worker, and a retry needs its own.
        job: () => ({
          kind: 'rows',
          features: features.slice(shard.from * featureCount, shard.to * featureCount),
          rows: shard.to - shard.from,
        }),
      })) as RowsResult;
      scores.set(result.scores, shard.from);
    }),
  );
  return scores;
}

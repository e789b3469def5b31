import path from 'node:path';
import type { JsonObject, JsonValue, ShardContext, TaskContext } from '../dag/types.ts';
import { closeIdleScoringPools, type ShardJobSpec, scoreBatch, scoreShardHere } from '../ml/score/index.ts';
import { findChampion } from '../registry/aliases.ts';
import { artifactDirOf } from '../registry/versions.ts';
import type { NightlyPlan } from './nightly.ts';

/**
 * Scores day D with the champion, resolved once at the start: every prediction row names that
 * version, even if a promotion happens while the task runs. Output:
 * `<home>/predictions/<dag>/date=D/shard-*.parquet` and a manifest; a rerun skips verified shards.
 * The shards (row groups of the day) go through `ctx.shards`: this process scores them on its
 * pool, and `nightshift worker` processes elsewhere take some too (scoreShardTask).
 * Skipped only when no champion exists (AliasNotSetError); any other error looking it up fails
 * the task, to be retried: a night must not pass as "nothing to score" because the store hiccuped.
 */
export function scoreTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, partitions } = await plan();
    const model = pipeline.model.name;
    const champion = await findChampion(context.store, model);
    if (!champion) context.skip(`no champion of ${model} yet: nothing to score with`);
    const day = await partitions(context.config, context.ds, context.ds);
    const outputDir = path.join(context.config.home, 'predictions', context.dagId, `date=${context.ds}`);
    const result = await scoreBatch({
      model,
      modelVersion: champion.version,
      artifactDir: artifactDirOf(context.config.home, champion),
      manifestSha256: champion.artifactSha256,
      partitions: day,
      outputDir,
      logicalDate: context.ds,
      workers: options.scoringWorkers,
      distribute: async (todo) => {
        try {
          await context.shards(
            todo.map((job) => ({ name: job.shard.name, spec: job as unknown as JsonValue })),
            { localConcurrency: todo[0]?.workers ?? 1 },
          );
        } finally {
          await closeIdleScoringPools();
        }
      },
    });
    return {
      model,
      version: champion.version,
      rows: result.manifest.rowCount,
      errorRows: result.manifest.errorRows,
      shards: result.manifest.shards.length,
      output: outputDir,
      seconds: Number(result.seconds.toFixed(2)),
    };
  };
}

/** The score task's `shard` function: scores one shard of a day on this process's pool. */
export async function scoreShardTask(spec: JsonValue, context: ShardContext): Promise<JsonObject> {
  const result = await scoreShardHere(spec as unknown as ShardJobSpec);
  context.log.info({ rows: result.rows, seconds: Number(result.seconds.toFixed(2)) }, 'shard scored');
  return { rows: result.rows, errorRows: result.errorRows, sha256: result.sha256 };
}

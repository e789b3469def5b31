import path from 'node:path';
import type { JsonObject, TaskContext } from '../dag/types.ts';
import { scoreBatch } from '../ml/score/index.ts';
import { CHAMPION, resolveModelRef } from '../registry/aliases.ts';
import { artifactDirOf } from '../registry/versions.ts';
import type { NightlyPlan } from './nightly.ts';

/**
 * Scores day D with the champion, resolved once at the start: every prediction row names that
 * version, even if a promotion happens while the task runs. Output:
 * `<home>/predictions/<dag>/date=D/shard-*.parquet` and a manifest; a rerun skips verified shards.
 */
export function scoreTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, partitions } = await plan();
    const model = pipeline.model.name;
    const champion = await resolveModelRef(context.store, `${model}@${CHAMPION}`).catch(() => undefined);
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

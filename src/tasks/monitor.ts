import type { JsonObject, TaskContext } from '../dag/types.ts';
import { addDays } from '../data/index.ts';
import { CHAMPION, getAliases, PREVIOUS } from '../registry/aliases.ts';
import { rollbackChampion } from '../registry/promote.ts';
import { getModelVersion, type ModelVersion } from '../registry/versions.ts';
import { shouldRollback } from '../validation/index.ts';
import { evaluateVersion } from './evaluate.ts';
import type { NightlyPlan } from './nightly.ts';
import { dagActor } from './promote.ts';

/**
 * The champion and `previous` on the newest labelled day (D-1), labels that did not decide the
 * champion's promotion: when the champion does worse than `previous` by more than the pipeline
 * allows, champion goes back to `previous`, and the history says why. Runs before scoring, so
 * that day D is scored by the model left standing.
 */
export function monitorTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, partitions } = await plan();
    const model = pipeline.model.name;
    const aliases = await getAliases(context.store, model);
    const championVersion = aliases[CHAMPION];
    const previousVersion = aliases[PREVIOUS];
    if (championVersion === undefined || previousVersion === undefined) {
      context.skip(
        `${model} has ${championVersion === undefined ? 'no champion' : 'no previous version'}: nothing to compare`,
      );
    }
    const day = addDays(context.ds, -1);
    // The same slices as validation, so that its evaluation of the champion on D-1 is reused.
    const sliceColumns = pipeline.features.slices ?? [];
    const holdout = await partitions(context.config, day, day);
    const load = async (version: number) =>
      (await getModelVersion(context.store, model, version)) as ModelVersion;
    const [champion, previous] = await Promise.all([load(championVersion), load(previousVersion)]);
    const championEvaluation = await evaluateVersion({
      home: context.config.home,
      version: champion,
      partitions: holdout,
      sliceColumns,
    });
    const previousEvaluation = await evaluateVersion({
      home: context.config.home,
      version: previous,
      partitions: holdout,
      sliceColumns,
    });
    const decision = shouldRollback({
      ...options.rollback,
      champion: championEvaluation,
      previous: previousEvaluation,
    });
    if (decision.rollback) {
      await context.transaction((tx) =>
        rollbackChampion(tx, {
          model,
          reason: `monitor on ${day}: ${decision.reason}`,
          actor: dagActor(context),
        }),
      );
      context.log.warn(
        { from: champion.version, to: previous.version, reason: decision.reason },
        'champion rolled back',
      );
    }
    return {
      model,
      day,
      champion: champion.version,
      previous: previous.version,
      championAuc: Number(championEvaluation.metrics.auc?.toFixed(4)),
      previousAuc: Number(previousEvaluation.metrics.auc?.toFixed(4)),
      rolledBack: decision.rollback,
      reason: decision.reason,
    };
  };
}

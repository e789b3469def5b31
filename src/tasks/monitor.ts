import type { JsonObject, TaskContext } from '../dag/types.ts';
import { CHAMPION, getAliases, PREVIOUS } from '../registry/aliases.ts';
import { rollbackChampion } from '../registry/promote.ts';
import { getModelVersion, type ModelVersion } from '../registry/versions.ts';
import { shouldRollback } from '../validation/index.ts';
import { evaluateVersion } from './evaluate.ts';
import type { NightlyPlan } from './nightly.ts';
import { finiteOrNull } from './outputs.ts';
import { dagActor } from './promote.ts';

/**
 * The champion and `previous` on the pipeline's holdout ending on D-1 (with the default of one
 * day, labels that did not decide the champion's promotion): when the champion does worse than
 * `previous` on the rollback metric by more than the pipeline allows, champion goes back to
 * `previous`, and the history says why. A metric the holdout cannot define is reported as
 * skipped with its reason and rolls nothing back. Runs before scoring, so that day D is scored by
 * the model left standing.
 */
export function monitorTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, holdout: holdoutOf } = await plan();
    const task = pipeline.model.task;
    const metric = options.rollback.metric ?? 'auc';
    const model = pipeline.model.name;
    const aliases = await getAliases(context.store, model);
    const championVersion = aliases[CHAMPION];
    const previousVersion = aliases[PREVIOUS];
    if (championVersion === undefined || previousVersion === undefined) {
      context.skip(
        `${model} has ${championVersion === undefined ? 'no champion' : 'no previous version'}: nothing to compare`,
      );
    }
    // The same slices as validation, so that its evaluation of the champion is reused.
    const sliceColumns = pipeline.features.slices ?? [];
    const holdout = await holdoutOf(context.config, context.ds);
    const from = (holdout[0] as (typeof holdout)[number]).date;
    const day = (holdout.at(-1) as (typeof holdout)[number]).date;
    const holdoutName = from === day ? day : `${from}..${day}`;
    const load = async (version: number) =>
      (await getModelVersion(context.store, model, version)) as ModelVersion;
    const [champion, previous] = await Promise.all([load(championVersion), load(previousVersion)]);
    const championEvaluation = await evaluateVersion({
      home: context.config.home,
      task,
      version: champion,
      partitions: holdout,
      sliceColumns,
    });
    const previousEvaluation = await evaluateVersion({
      home: context.config.home,
      task,
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
          reason: `monitor on ${holdoutName}: ${decision.reason}`,
          actor: dagActor(context),
        }),
      );
      context.log.warn(
        { from: champion.version, to: previous.version, reason: decision.reason },
        'champion rolled back',
      );
    }
    const values = finiteOrNull({
      champion: championEvaluation.metrics[metric],
      previous: previousEvaluation.metrics[metric],
    });
    return {
      model,
      holdout: holdoutName,
      champion: champion.version,
      previous: previous.version,
      metric,
      championValue: values.champion ?? null,
      previousValue: values.previous ?? null,
      // Why the metric has no value on this holdout (one class, a constant label), else null.
      skipped: championEvaluation.skipped[metric] ?? null,
      rolledBack: decision.rollback,
      reason: decision.reason,
    };
  };
}

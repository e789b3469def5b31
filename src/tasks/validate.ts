import type { JsonObject, TaskContext } from '../dag/types.ts';
import { errorMessage } from '../errors.ts';
import { ScoringPool, scoreRowsSharded } from '../ml/score/index.ts';
import { findChampion } from '../registry/aliases.ts';
import { recordBlessing } from '../registry/blessings.ts';
import { artifactDirOf, getModelVersion, type ModelVersion } from '../registry/versions.ts';
import { evaluateBlessing, type InfraCheck } from '../validation/index.ts';
import { evaluateVersion, type VersionEvaluation } from './evaluate.ts';
import type { NightlyPlan } from './nightly.ts';
import { finiteOrNull } from './outputs.ts';

/**
 * Validates the candidate against the champion on the same holdout, the pipeline's newest
 * labelled days not used in training (ending on D-1), with the pipeline's rules, and stores the
 * blessing with every rule's value, threshold, verdict and reason, and the champion it was
 * compared with (promotion refuses it once that is no longer champion). With no champion yet,
 * floors and sanity decide. Only AliasNotSetError means "no champion": any other error looking
 * it up fails the task, and the runner retries it.
 */
export function validateTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, holdout: holdoutOf } = await plan();
    const task = pipeline.model.task;
    const trained = context.upstream.train as { model: string; version: number };
    const candidate = await getModelVersion(context.store, trained.model, trained.version);
    if (!candidate) throw new Error(`validate: ${trained.model}@${trained.version} is not registered`);
    const champion = await findChampion(context.store, trained.model);
    const holdout = await holdoutOf(context.config, context.ds);
    const holdoutFrom = (holdout[0] as (typeof holdout)[number]).date;
    const holdoutTo = (holdout.at(-1) as (typeof holdout)[number]).date;
    const sliceColumns = pipeline.features.slices ?? [];
    const candidateEvaluation = await evaluateVersion({
      home: context.config.home,
      task,
      version: candidate,
      partitions: holdout,
      sliceColumns,
    });
    const championEvaluation = champion
      ? await evaluateVersion({
          home: context.config.home,
          task,
          version: champion,
          partitions: holdout,
          sliceColumns,
        })
      : undefined;
    const infra = await infraCheck(context.config.home, candidate, candidateEvaluation.sample);
    const blessing = evaluateBlessing({
      rules: options.blessingRules,
      candidate: candidateEvaluation,
      ...(championEvaluation ? { champion: championEvaluation } : {}),
      infra,
    });
    const record = await context.transaction((tx) =>
      recordBlessing(tx, {
        model: candidate.model,
        version: candidate.version,
        passed: blessing.passed,
        baselineVersion: champion?.version ?? null,
        holdout: {
          from: holdoutFrom,
          to: holdoutTo,
          days: holdout.length,
          rows: candidateEvaluation.rows,
          skipped: candidateEvaluation.skipped,
        },
        rules: blessing.rules,
        runId: context.runId,
      }),
    );
    context.log.info({ passed: blessing.passed, summary: blessing.summary }, 'blessing recorded');
    return {
      model: candidate.model,
      candidate: candidate.version,
      champion: champion?.version ?? null,
      holdout: holdoutFrom === holdoutTo ? holdoutFrom : `${holdoutFrom}..${holdoutTo}`,
      rows: candidateEvaluation.rows,
      // Metrics the holdout cannot define, with the reason: their values are null below.
      skippedMetrics: candidateEvaluation.skipped,
      passed: blessing.passed,
      blessingId: record.id,
      summary: blessing.summary,
      candidateMetrics: headlineMetrics(candidateEvaluation),
      championMetrics: championEvaluation ? headlineMetrics(championEvaluation) : null,
      failedRules: blessing.rules.filter((rule) => rule.verdict === 'fail').map((rule) => rule.reason),
      // Every rule's verdict and reason, so that `runs show` shows the blessing too.
      rules: blessing.rules.map((rule) => ({ rule: rule.rule, verdict: rule.verdict, reason: rule.reason })),
    };
  };
}

/** Loads the artifact in a fresh worker thread and scores a sample, timing both. */
async function infraCheck(
  home: string,
  version: ModelVersion,
  sample: { features: Float32Array; rows: number; featureCount: number },
): Promise<InfraCheck> {
  const started = performance.now();
  let pool: ScoringPool | undefined;
  try {
    pool = await ScoringPool.open({
      artifactDir: artifactDirOf(home, version),
      manifestSha256: version.artifactSha256,
      workers: 1,
      maxAttempts: 1,
    });
    const scores = await scoreRowsSharded(pool, sample.features, sample.rows, sample.featureCount);
    if (scores.length !== sample.rows)
      return { loaded: false, error: `scored ${scores.length} of ${sample.rows} sample rows` };
    return { loaded: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { loaded: false, error: errorMessage(error) };
  } finally {
    await pool?.close();
  }
}

/** The task's headline metrics for outputs: AUC and log loss, or MAE, RMSE and R². */
export function headlineMetrics(evaluation: VersionEvaluation): JsonObject {
  const { metrics } = evaluation;
  return finiteOrNull(
    evaluation.task === 'binary'
      ? { auc: metrics.auc, logLoss: metrics.logLoss }
      : { mae: metrics.mae, rmse: metrics.rmse, r2: metrics.r2 },
  );
}

import type { JsonObject, TaskContext } from '../dag/types.ts';
import { addDays } from '../data/index.ts';
import { errorMessage } from '../errors.ts';
import { ScoringPool, scoreRowsSharded } from '../ml/score/index.ts';
import { CHAMPION, resolveModelRef } from '../registry/aliases.ts';
import { recordBlessing } from '../registry/blessings.ts';
import { artifactDirOf, getModelVersion, type ModelVersion } from '../registry/versions.ts';
import { evaluateBlessing, type InfraCheck } from '../validation/index.ts';
import { evaluateVersion } from './evaluate.ts';
import type { NightlyPlan } from './nightly.ts';

/**
 * Validates the candidate against the champion on the same holdout, the newest labelled day not
 * used in training (D-1), with the pipeline's rules, and stores the blessing with every rule's
 * value, threshold, verdict and reason. With no champion yet, floors and sanity decide.
 */
export function validateTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, partitions } = await plan();
    const trained = context.upstream.train as { model: string; version: number };
    const candidate = await getModelVersion(context.store, trained.model, trained.version);
    if (!candidate) throw new Error(`validate: ${trained.model}@${trained.version} is not registered`);
    const champion = await resolveModelRef(context.store, `${trained.model}@${CHAMPION}`).catch(
      () => undefined,
    );
    const holdoutDay = addDays(context.ds, -1);
    const holdout = await partitions(context.config, holdoutDay, holdoutDay);
    const sliceColumns = pipeline.features.slices ?? [];
    const candidateEvaluation = await evaluateVersion({
      home: context.config.home,
      version: candidate,
      partitions: holdout,
      sliceColumns,
    });
    const championEvaluation = champion
      ? await evaluateVersion({
          home: context.config.home,
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
        holdout: { from: holdoutDay, to: holdoutDay, rows: candidateEvaluation.rows },
        rules: blessing.rules,
        runId: context.runId,
      }),
    );
    context.log.info({ passed: blessing.passed, summary: blessing.summary }, 'blessing recorded');
    const brief = (evaluation: { metrics: Record<string, number> } | undefined) =>
      evaluation ? { auc: round(evaluation.metrics.auc), logLoss: round(evaluation.metrics.logLoss) } : null;
    return {
      model: candidate.model,
      candidate: candidate.version,
      champion: champion?.version ?? null,
      holdout: holdoutDay,
      rows: candidateEvaluation.rows,
      passed: blessing.passed,
      blessingId: record.id,
      summary: blessing.summary,
      candidateMetrics: brief(candidateEvaluation),
      championMetrics: brief(championEvaluation),
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

function round(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : Number(value.toFixed(4));
}

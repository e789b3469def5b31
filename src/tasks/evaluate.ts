import path from 'node:path';
import { type Partition, parseFittedFeatures, readFeatures } from '../data/index.ts';
import { DataError } from '../errors.ts';
import { loadModelArtifact } from '../ml/artifacts.ts';
import { initBackend } from '../ml/backend.ts';
import { predictScores } from '../ml/predict.ts';
import { FEATURES_FILE, inputLayoutOf, targetTransformOf } from '../ml/score/index.ts';
import { measureTask } from '../ml/taskMetrics.ts';
import type { TrainingTask } from '../ml/train.ts';
import { artifactDirOf, type ModelVersion } from '../registry/versions.ts';
import type { EvaluationResult } from '../validation/index.ts';

export interface VersionEvaluation extends EvaluationResult {
  task: TrainingTask;
  rows: number;
  /** Metrics the holdout cannot define, with the reason (see measureTask). */
  skipped: Record<string, string>;
  /** The slice columns evaluated, e.g. ['origin']. */
  sliceColumns: string[];
  /** The first rows' feature vectors, for the infra check's sample. */
  sample: { features: Float32Array; rows: number; featureCount: number };
}

/**
 * Scores a registered version on labelled partitions with its own fitted features (never
 * refitted) and measures it overall and per slice (`origin=ORD`), with the metrics of its task
 * (binary: AUC, log loss, ...; regression: MAE, RMSE, R²; per slice fewer, see measureTask). A
 * regression's target transform, recorded in the artifact, is inverted before measuring. The
 * artifact is verified against the sum the registry recorded.
 */
export function evaluateVersion(options: EvaluateOptions): Promise<VersionEvaluation> {
  // The monitor and validation both score the champion on D-1 in the same night: the second
  // asks for what the first measured. Keyed by the artifact's recorded sum and the data's file
  // sums, so another version or changed data is measured afresh.
  const key = [
    options.version.artifactSha256,
    ...options.partitions.flatMap((partition) => partition.manifest.files.map((file) => file.sha256)),
    ...(options.sliceColumns ?? ['*']),
    options.task,
  ].join('|');
  let evaluation = recentEvaluations.get(key);
  if (!evaluation) {
    evaluation = measureVersion(options);
    evaluation.catch(() => recentEvaluations.delete(key));
    recentEvaluations.set(key, evaluation);
    if (recentEvaluations.size > RECENT_EVALUATIONS) {
      recentEvaluations.delete(recentEvaluations.keys().next().value as string);
    }
  }
  return evaluation;
}

interface EvaluateOptions {
  home: string;
  /** The pipeline's task: which metrics to measure (the labels must fit it). */
  task: TrainingTask;
  version: ModelVersion;
  partitions: readonly Partition[];
  sliceColumns?: readonly string[];
}

const RECENT_EVALUATIONS = 4;
const recentEvaluations = new Map<string, Promise<VersionEvaluation>>();

async function measureVersion(options: EvaluateOptions): Promise<VersionEvaluation> {
  await initBackend();
  const { version } = options;
  const artifact = await loadModelArtifact(artifactDirOf(options.home, version), version.artifactSha256);
  try {
    const featuresText = artifact.extras[FEATURES_FILE];
    if (featuresText === undefined) {
      throw new DataError(
        `${path.join(artifact.dir, FEATURES_FILE)}: expected the fitted features, found none`,
      );
    }
    const fitted = parseFittedFeatures(featuresText, path.join(artifact.dir, FEATURES_FILE));
    const { batch } = await readFeatures({ partitions: options.partitions, fitted, withLabels: true });
    if (!batch.labels) throw new DataError(`${version.model}@${version.version}: the holdout has no labels`);
    const scores = predictScores(
      artifact.model,
      inputLayoutOf(artifact.manifest),
      batch.features,
      batch.rowCount,
      undefined,
      targetTransformOf(artifact.manifest),
    );
    const overall = measureTask(options.task, scores, batch.labels);
    const slices: EvaluationResult['slices'] = {};
    const wanted = new Set(options.sliceColumns ?? batch.slices.map((slice) => slice.column));
    for (const slice of batch.slices) {
      if (!wanted.has(slice.column)) continue;
      const rowsByCode = new Map<number, number[]>();
      slice.codes.forEach((code, row) => {
        const rows = rowsByCode.get(code);
        if (rows) rows.push(row);
        else rowsByCode.set(code, [row]);
      });
      for (const [code, rows] of rowsByCode) {
        const sliceScores = Float32Array.from(rows, (row) => scores[row] as number);
        const sliceLabels = Float32Array.from(rows, (row) => (batch.labels as Float32Array)[row] as number);
        const measured = measureTask(options.task, sliceScores, sliceLabels, 'slice');
        slices[`${slice.column}=${String(slice.values[code])}`] = {
          count: rows.length,
          metrics: measured.metrics,
          ...(Object.keys(measured.skipped).length > 0 ? { skipped: measured.skipped } : {}),
        };
      }
    }
    return {
      task: options.task,
      rows: batch.rowCount,
      metrics: overall.metrics,
      skipped: overall.skipped,
      slices,
      scores,
      sliceColumns: [...wanted],
      sample: {
        features: batch.features.slice(0, Math.min(batch.rowCount, 1024) * batch.featureCount),
        rows: Math.min(batch.rowCount, 1024),
        featureCount: batch.featureCount,
      },
    };
  } finally {
    artifact.model.dispose();
  }
}

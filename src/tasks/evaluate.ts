import path from 'node:path';
import { type Partition, parseFittedFeatures, readFeatures } from '../data/index.ts';
import { DataError } from '../errors.ts';
import { loadModelArtifact } from '../ml/artifacts.ts';
import { initBackend } from '../ml/backend.ts';
import { aucRoc, binaryMetrics } from '../ml/metrics.ts';
import { predictScores } from '../ml/predict.ts';
import { FEATURES_FILE, inputLayoutOf } from '../ml/score/index.ts';
import { artifactDirOf, type ModelVersion } from '../registry/versions.ts';
import type { EvaluationResult } from '../validation/index.ts';

export interface VersionEvaluation extends EvaluationResult {
  rows: number;
  /** The slice columns evaluated, e.g. ['origin']. */
  sliceColumns: string[];
  /** The first rows' feature vectors, for the infra check's sample. */
  sample: { features: Float32Array; rows: number; featureCount: number };
}

/**
 * Scores a registered version on labelled partitions with its own fitted features (never
 * refitted) and measures it overall and per slice (`origin=ORD`). The artifact is verified
 * against the sum the registry recorded.
 */
export function evaluateVersion(options: EvaluateOptions): Promise<VersionEvaluation> {
  // The monitor and validation both score the champion on D-1 in the same night: the second
  // asks for what the first measured. Keyed by the artifact's recorded sum and the data's file
  // sums, so another version or changed data is measured afresh.
  const key = [
    options.version.artifactSha256,
    ...options.partitions.flatMap((partition) => partition.manifest.files.map((file) => file.sha256)),
    ...(options.sliceColumns ?? ['*']),
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
    );
    const overall = binaryMetrics(scores, batch.labels);
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
        slices[`${slice.column}=${String(slice.values[code])}`] = {
          count: rows.length,
          metrics: { auc: aucRoc(sliceScores, sliceLabels) },
        };
      }
    }
    return {
      rows: batch.rowCount,
      metrics: {
        auc: overall.auc,
        logLoss: overall.logLoss,
        brier: overall.brier,
        accuracy: overall.accuracy,
      },
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

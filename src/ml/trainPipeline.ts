import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type FittedFeatures,
  fitFeatures,
  type Partition,
  readFeatures,
  serializeFittedFeatures,
} from '../data/index.ts';
import { DataError } from '../errors.ts';
import { childLogger } from '../log.ts';
import { type SavedArtifact, saveModelArtifact } from './artifacts.ts';
import type { BackendChoice } from './backend.ts';
import { groupRateScores } from './baseline.ts';
import { type InputLayout, inputLayoutFromSlots } from './inputs.ts';
import { type BinaryMetrics, binaryMetrics } from './metrics.ts';
import type { PipelineDefinition } from './pipeline.ts';
import { predictScores } from './predict.ts';
import { checkTrainingSettings, type TrainingSettings } from './recipe.ts';
import { FEATURES_FILE } from './score/artifactLayout.ts';
import type { TargetMetadata } from './target.ts';
import { measureTask } from './taskMetrics.ts';
import { type EpochRecord, type TrainResult, trainModel } from './train.ts';

export interface TrainPipelineOptions {
  pipeline: PipelineDefinition;
  /** The training window, oldest first; the newest rows validate. */
  partitions: readonly Partition[];
  backend: BackendChoice;
  overrides?: Partial<TrainingSettings>;
  warmStart?: tfl.LayersModel;
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Labelled days after the window the candidate is measured on, next to the recipe's baseline
   * (the pipeline's holdout, resolved by the caller: see holdout.ts). None: no holdout metrics.
   */
  holdout?: readonly Partition[];
}

/**
 * The candidate and the baseline on days after the training window: the honest figure, since
 * the validation split shares the window's days (and its weather) with training. Metrics by
 * task (binary: auc, logLoss, ...; regression: mae, rmse, r2); those the holdout cannot define
 * are in `skipped` with the reason, never NaN.
 */
export interface HoldoutMetrics {
  from: string;
  to: string;
  days: number;
  rows: number;
  metrics: Record<string, number>;
  skipped: Record<string, string>;
  /** The recipe's baseline (per-group mean label of the training window) on the same rows. */
  baseline?: { metrics: Record<string, number>; skipped: Record<string, string> };
}

/** A regression's validation metrics; R² absent (in `skipped`) when the rows cannot define it. */
export interface RegressionMetrics {
  rows: number;
  mae: number;
  rmse: number;
  r2?: number;
  skipped: Record<string, string>;
}

export type CandidateMetrics = (BinaryMetrics | RegressionMetrics) & {
  holdout?: HoldoutMetrics;
};

/** Data partitions a version was trained on, with their manifests' file sums (lineage). */
export interface PartitionLineage {
  date: string;
  files: { name: string; sha256: string; rows: number }[];
}

export interface TrainedCandidate {
  model: tfl.LayersModel;
  fitted: FittedFeatures;
  layout: InputLayout;
  settings: TrainingSettings;
  training: TrainResult;
  metrics: CandidateMetrics;
  partitions: PartitionLineage[];
}

/**
 * Fits the features on the window, reads it as typed arrays, trains with the recipe's seeded
 * settings and measures the validation rows. Writes nothing: the registry saves and numbers it.
 */
export async function trainPipeline(options: TrainPipelineOptions): Promise<TrainedCandidate> {
  const { pipeline } = options;
  const settings: TrainingSettings = { ...pipeline.model.training, ...options.overrides };
  checkTrainingSettings(`pipeline ${pipeline.name}: training settings`, settings, pipeline.model.task);
  const task = pipeline.model.task;
  const log = childLogger({ component: 'train', pipeline: pipeline.name });
  if (options.partitions.length === 0) {
    throw new DataError(`training ${pipeline.name}: expected partitions in the training window, found none`);
  }
  const fitted = await fitFeatures(pipeline.features, options.partitions);
  const { batch, report } = await readFeatures({ partitions: options.partitions, fitted, withLabels: true });
  if (batch.labels === undefined)
    throw new DataError(`training ${pipeline.name}: the feature spec has no label`);
  const layout = inputLayoutFromSlots(
    fitted.slots,
    pipeline.model.ignoreFeatures,
    pipeline.model.derivedInputs,
  );
  log.info(
    { rows: batch.rowCount, errorRows: report.errorRows, days: options.partitions.length },
    'training window read',
  );
  const training = await trainModel(
    { rowCount: batch.rowCount, features: batch.features, labels: batch.labels },
    {
      layout,
      buildModel: (seed) => pipeline.model.build(layout, seed),
      seed: settings.seed,
      task,
      ...(task === 'regression'
        ? { loss: settings.loss, huberDelta: settings.huberDelta, targetTransform: settings.targetTransform }
        : {}),
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      validationFraction: settings.validationFraction,
      earlyStopping: settings.earlyStopping,
      warmStart: options.warmStart,
      onEpoch: (record) => {
        log.info(record, `epoch ${record.epoch}`);
        options.onEpoch?.(record);
      },
    },
  );
  const metrics: CandidateMetrics =
    task === 'binary'
      ? binaryMetrics(training.validationScores, training.validationLabels)
      : regressionMetrics(training.validationScores, training.validationLabels);
  const holdoutPartitions = options.holdout ?? [];
  if (holdoutPartitions.length > 0) {
    metrics.holdout = await measureHoldout(
      options.pipeline,
      fitted,
      layout,
      settings,
      training.model,
      batch,
      holdoutPartitions,
    );
    log.info(metrics.holdout, 'holdout: candidate and baseline');
  }
  return {
    model: training.model,
    fitted,
    layout,
    settings,
    training,
    metrics,
    partitions: options.partitions.map((partition) => ({
      date: partition.date,
      files: partition.manifest.files.map((file) => ({
        name: file.name,
        sha256: file.sha256,
        rows: file.rows,
      })),
    })),
  };
}

function regressionMetrics(scores: Float32Array, labels: Float32Array): RegressionMetrics {
  const { metrics, skipped } = measureTask('regression', scores, labels);
  return {
    rows: labels.length,
    mae: metrics.mae as number,
    rmse: metrics.rmse as number,
    ...(metrics.r2 === undefined ? {} : { r2: metrics.r2 }),
    skipped,
  };
}

async function measureHoldout(
  pipeline: PipelineDefinition,
  fitted: FittedFeatures,
  layout: InputLayout,
  settings: TrainingSettings,
  model: tfl.LayersModel,
  window: Parameters<typeof groupRateScores>[2],
  partitions: readonly Partition[],
): Promise<HoldoutMetrics> {
  const task = pipeline.model.task;
  const { batch } = await readFeatures({ partitions, fitted, withLabels: true });
  const labels = batch.labels as Float32Array;
  const transform = task === 'regression' ? settings.targetTransform : undefined;
  const scores = predictScores(model, layout, batch.features, batch.rowCount, undefined, transform);
  const result: HoldoutMetrics = {
    from: (partitions[0] as Partition).date,
    to: (partitions.at(-1) as Partition).date,
    days: partitions.length,
    rows: batch.rowCount,
    ...measureTask(task, scores, labels),
  };
  const spec = pipeline.model.baseline;
  if (spec) {
    // The per-group mean label of the window: a positive rate, or a regression's mean target.
    const baseline = groupRateScores(spec, fitted.slots, window, batch);
    result.baseline = measureTask(task, baseline, labels);
  }
  return result;
}

/** Writes a candidate's artifact: the model, its fitted features and the layout scoring needs. */
export function saveCandidateArtifact(
  home: string,
  candidate: TrainedCandidate,
  model: string,
  version: number,
  extraMetadata: Record<string, unknown> = {},
): Promise<SavedArtifact> {
  return saveModelArtifact({
    home,
    model,
    version,
    layersModel: candidate.model,
    extras: { [FEATURES_FILE]: serializeFittedFeatures(candidate.fitted) },
    metadata: {
      inputLayout: candidate.layout,
      // Read by every scorer (targetTransformOf): predictions come back in the label's units.
      ...(candidate.settings.targetTransform === undefined
        ? {}
        : { target: { transform: candidate.settings.targetTransform } satisfies TargetMetadata }),
      ...extraMetadata,
    },
    // The number is not committed yet: a folder there is an orphan of a crashed registration.
    replace: true,
  });
}

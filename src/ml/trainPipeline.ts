import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  addDays,
  type FittedFeatures,
  fitFeatures,
  listPartitions,
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
import { aucRoc, type BinaryMetrics, binaryMetrics, logLoss, mae, rmse } from './metrics.ts';
import type { PipelineDefinition } from './pipeline.ts';
import { predictScores } from './predict.ts';
import type { TrainingSettings } from './recipe.ts';
import { FEATURES_FILE } from './score/artifactLayout.ts';
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
   * Labelled days after the window the candidate is measured on, next to the recipe's baseline.
   * Default `weekAfter`: the 7 days after the window's last day that exist in its dataset
   * folder (none: no holdout). `false` skips it.
   */
  holdout?: readonly Partition[] | 'weekAfter' | false;
}

/**
 * The candidate and the baseline on days after the training window: the honest figure, since
 * the validation split shares the window's days (and its weather) with training.
 */
export interface HoldoutMetrics {
  from: string;
  to: string;
  days: number;
  rows: number;
  auc: number;
  logLoss: number;
  /** The recipe's baseline (per-(origin, hour) historical rate) fitted on the same window. */
  baselineAuc?: number;
  baselineLogLoss?: number;
}

export type CandidateMetrics = (BinaryMetrics | { rows: number; rmse: number; mae: number }) & {
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
      task: pipeline.model.task,
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
    pipeline.model.task === 'binary'
      ? binaryMetrics(training.validationScores, training.validationLabels)
      : {
          rows: training.validationRows,
          rmse: rmse(training.validationScores, training.validationLabels),
          mae: mae(training.validationScores, training.validationLabels),
        };
  if (pipeline.model.task === 'binary') {
    const holdoutPartitions =
      options.holdout === false
        ? []
        : options.holdout === undefined || options.holdout === 'weekAfter'
          ? await weekAfter(options.partitions)
          : options.holdout;
    if (holdoutPartitions.length > 0) {
      metrics.holdout = await measureHoldout(
        options.pipeline,
        fitted,
        layout,
        training.model,
        batch,
        holdoutPartitions,
      );
      log.info(metrics.holdout, 'holdout: candidate and baseline');
    }
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

/** The (up to) 7 existing partitions after the window's last day, in its dataset folder. */
export async function weekAfter(window: readonly Partition[]): Promise<Partition[]> {
  const last = window.at(-1);
  if (last === undefined) return [];
  return listPartitions(path.dirname(last.dir), { from: addDays(last.date, 1), to: addDays(last.date, 7) });
}

async function measureHoldout(
  pipeline: PipelineDefinition,
  fitted: FittedFeatures,
  layout: InputLayout,
  model: tfl.LayersModel,
  window: Parameters<typeof groupRateScores>[2],
  partitions: readonly Partition[],
): Promise<HoldoutMetrics> {
  const { batch } = await readFeatures({ partitions, fitted, withLabels: true });
  const labels = batch.labels as Float32Array;
  const scores = predictScores(model, layout, batch.features, batch.rowCount);
  const result: HoldoutMetrics = {
    from: (partitions[0] as Partition).date,
    to: (partitions.at(-1) as Partition).date,
    days: partitions.length,
    rows: batch.rowCount,
    auc: aucRoc(scores, labels),
    logLoss: logLoss(scores, labels),
  };
  const spec = pipeline.model.baseline;
  if (spec) {
    const baseline = groupRateScores(spec, fitted.slots, window, batch);
    result.baselineAuc = aucRoc(baseline, labels);
    result.baselineLogLoss = logLoss(baseline, labels);
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
    metadata: { inputLayout: candidate.layout, ...extraMetadata },
    // The number is not committed yet: a folder there is an orphan of a crashed registration.
    replace: true,
  });
}

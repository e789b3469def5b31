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
import { type InputLayout, inputLayoutFromSlots } from './inputs.ts';
import { type BinaryMetrics, binaryMetrics, mae, rmse } from './metrics.ts';
import type { PipelineDefinition } from './pipeline.ts';
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
}

export type CandidateMetrics = BinaryMetrics | { rows: number; rmse: number; mae: number };

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
  const layout = inputLayoutFromSlots(fitted.slots, pipeline.model.ignoreFeatures);
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

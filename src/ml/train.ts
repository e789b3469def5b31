import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError, UsageError } from '../errors.ts';
import { type InputLayout, modelInputs } from './inputs.ts';
import { aucRoc, logLoss, rmse } from './metrics.ts';
import { predictScores } from './predict.ts';
import { deriveSeed, seededPermutation } from './random.ts';
import {
  lossFunction,
  lossValue,
  type RegressionLoss,
  type TargetTransform,
  transformLabels,
} from './target.ts';

/** Rows in time order (oldest first): the validation split takes the newest rows. */
export interface TrainingData {
  rowCount: number;
  /** Row-major, rowCount x layout.featureCount. */
  features: Float32Array;
  labels: Float32Array;
}

export type TrainingTask = 'binary' | 'regression';

export interface TrainOptions {
  layout: InputLayout;
  /** Builds an uncompiled model whose initialisers are seeded from `seed`. */
  buildModel: (seed: number) => tfl.LayersModel;
  seed: number;
  task?: TrainingTask;
  /** Regression only: the loss (default `mse`), Huber's delta, and a transform of the target. */
  loss?: RegressionLoss;
  huberDelta?: number;
  targetTransform?: TargetTransform;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Newest fraction of the rows held out for validation and early stopping; default 0.15. */
  validationFraction?: number;
  /** Stop after this many epochs without a validation-loss improvement of at least minDelta. */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Start from these weights (same architecture) instead of the seeded initialisation. */
  warmStart?: tfl.LayersModel;
  onEpoch?: (epoch: EpochRecord) => void;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  /** The training loss on the validation rows (for a transformed target, in its space). */
  validationLoss: number;
  /** AUC for binary tasks, RMSE for regression (in the label's units). */
  validationMetric: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface TrainResult {
  /** Holds the weights of the best epoch on validation loss. */
  model: tfl.LayersModel;
  curves: EpochRecord[];
  bestEpoch: number;
  stoppedEarly: boolean;
  trainRows: number;
  validationRows: number;
  /** Scores of the best model on the validation rows, in the label's units, for the metrics. */
  validationScores: Float32Array;
  validationLabels: Float32Array;
  samplesPerSecond: number;
}

export function timeOrderedSplit(rowCount: number, validationFraction: number): { trainRows: number } {
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new UsageError(`validationFraction: expected a number in (0, 1), found ${validationFraction}`);
  }
  const trainRows = Math.floor(rowCount * (1 - validationFraction));
  if (trainRows < 1 || trainRows >= rowCount) {
    throw new DataError(
      `training: expected enough rows for a train/validation split at ${validationFraction}, found ${rowCount}`,
    );
  }
  return { trainRows };
}

/**
 * Trains deterministically: the model's initialisers are seeded by the builder, every epoch's
 * order is a seeded permutation, and `fit` runs with `shuffle: false` (its own shuffle uses
 * Math.random). Same data, seed and backend give bitwise-equal weights.
 */
export async function trainModel(data: TrainingData, options: TrainOptions): Promise<TrainResult> {
  const { layout } = options;
  const task = options.task ?? 'binary';
  const epochs = options.epochs ?? 10;
  const batchSize = options.batchSize ?? 512;
  if (data.features.length !== data.rowCount * layout.featureCount || data.labels.length !== data.rowCount) {
    throw new DataError(
      `training: expected ${data.rowCount} rows of ${layout.featureCount} features and labels, found ${data.features.length} floats and ${data.labels.length} labels`,
    );
  }
  const { trainRows } = timeOrderedSplit(data.rowCount, options.validationFraction ?? 0.15);
  const validationRows = data.rowCount - trainRows;
  const validationFeatures = data.features.subarray(trainRows * layout.featureCount);
  const validationLabels = data.labels.slice(trainRows);
  const transform = task === 'regression' ? options.targetTransform : undefined;
  // The model is fitted on the transformed target; scores are inverted for the metrics.
  const targets = transformLabels(data.labels, transform);
  const validationTargets = targets.subarray(trainRows);
  const regressionLoss = options.loss ?? 'mse';
  const validationLossOf = (scores: Float32Array): number => {
    if (task === 'binary') return logLoss(scores, validationLabels);
    const predicted =
      transform === undefined ? scores : transformLabels(clampAboveMinusOne(scores), transform);
    return lossValue(regressionLoss, predicted, validationTargets, options.huberDelta);
  };

  const model = options.buildModel(options.seed);
  if (options.warmStart) copyWeights(options.warmStart, model);
  const loss = lossFunction(task, regressionLoss, options.huberDelta);
  model.compile({ optimizer: tf.train.adam(options.learningRate ?? 0.003), loss });

  const curves: EpochRecord[] = [];
  let best = { loss: Number.POSITIVE_INFINITY, epoch: -1, weights: [] as tf.Tensor[] };
  let stoppedEarly = false;
  let trainingSeconds = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const started = performance.now();
    const order = seededPermutation(trainRows, deriveSeed(options.seed, 1000 + epoch));
    const inputs = modelInputs(data.features, layout, 0, trainRows, order);
    const labels = new Float32Array(trainRows);
    for (let i = 0; i < trainRows; i++) labels[i] = targets[order[i] as number] as number;
    const target = tf.tensor2d(labels, [trainRows, 1]);
    const history = await model.fit(inputs.length === 1 ? (inputs[0] as tf.Tensor) : inputs, target, {
      epochs: 1,
      batchSize,
      shuffle: false,
      verbose: 0,
    });
    tf.dispose([...inputs, target]);
    const seconds = (performance.now() - started) / 1000;
    trainingSeconds += seconds;

    const scores = predictScores(model, layout, validationFeatures, validationRows, undefined, transform);
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: Number(history.history.loss?.[0]),
      validationLoss: validationLossOf(scores),
      validationMetric: task === 'binary' ? aucRoc(scores, validationLabels) : rmse(scores, validationLabels),
      seconds,
      samplesPerSecond: trainRows / seconds,
    };
    curves.push(record);
    options.onEpoch?.(record);

    if (record.validationLoss < best.loss - (options.earlyStopping?.minDelta ?? 0)) {
      tf.dispose(best.weights);
      best = {
        loss: record.validationLoss,
        epoch: record.epoch,
        weights: model.getWeights().map((w) => w.clone()),
      };
    } else if (options.earlyStopping && record.epoch - best.epoch >= options.earlyStopping.patience) {
      stoppedEarly = true;
      break;
    }
  }
  if (best.weights.length > 0) {
    model.setWeights(best.weights);
    tf.dispose(best.weights);
  }
  return {
    model,
    curves,
    bestEpoch: best.epoch,
    stoppedEarly,
    trainRows,
    validationRows,
    validationScores: predictScores(model, layout, validationFeatures, validationRows, undefined, transform),
    validationLabels,
    samplesPerSecond: (trainRows * curves.length) / trainingSeconds,
  };
}

/** expm1 of a float32 output can round to -1; log1p of it is -Infinity. */
function clampAboveMinusOne(scores: Float32Array): Float32Array {
  return scores.map((score) => Math.max(score, -1 + 1e-7));
}

function copyWeights(from: tfl.LayersModel, to: tfl.LayersModel): void {
  const source = from.getWeights();
  const target = to.getWeights();
  const same =
    source.length === target.length &&
    source.every((w, i) => w.shape.join('x') === target[i]?.shape.join('x'));
  if (!same) {
    const shapes = (ws: tf.Tensor[]) => ws.map((w) => w.shape.join('x')).join(', ');
    throw new UsageError(
      `warm start: expected weights shaped ${shapes(target)}, found ${shapes(source)} (a different architecture or vocabulary size)`,
    );
  }
  to.setWeights(source);
}

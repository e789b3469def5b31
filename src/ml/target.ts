import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DataError } from '../errors.ts';

/**
 * A regression target's objective: the loss the model is fitted with, and an optional transform
 * of the label. The transform is recorded in the artifact (`metadata.target`), so that every
 * scorer (batch scoring, evaluation, validation, the monitor) inverts it: predictions are always
 * in the label's own units.
 */
export type RegressionLoss = 'mse' | 'huber' | 'mae';
export type TargetTransform = 'log1p';

export const REGRESSION_LOSSES: readonly RegressionLoss[] = ['mse', 'huber', 'mae'];
export const TARGET_TRANSFORMS: readonly TargetTransform[] = ['log1p'];

/** What an artifact records about its output; absent for binary models and plain regressions. */
export interface TargetMetadata {
  transform?: TargetTransform;
}

/** tfjs' Huber default: quadratic within 1 unit of the (transformed) target, linear beyond. */
export const DEFAULT_HUBER_DELTA = 1;

/** Checks a pipeline's objective settings; names the field and what was expected. */
export function checkRegressionObjective(
  where: string,
  settings: { loss?: unknown; huberDelta?: unknown; targetTransform?: unknown },
  task: 'binary' | 'regression',
): void {
  const { loss, huberDelta, targetTransform } = settings;
  if (task === 'binary') {
    for (const [field, value] of Object.entries({ loss, huberDelta, targetTransform })) {
      if (value !== undefined) {
        throw new ConfigError(
          `${where}: '${field}' is a regression setting, found it on a binary task (binary models train with log loss)`,
        );
      }
    }
    return;
  }
  if (loss !== undefined && !REGRESSION_LOSSES.includes(loss as RegressionLoss)) {
    throw new ConfigError(
      `${where}: 'loss' expected one of ${REGRESSION_LOSSES.join(', ')}, found ${JSON.stringify(loss)}`,
    );
  }
  if (huberDelta !== undefined) {
    if (loss !== 'huber') {
      throw new ConfigError(
        `${where}: 'huberDelta' applies to loss 'huber' only, found loss '${loss ?? 'mse'}'`,
      );
    }
    if (typeof huberDelta !== 'number' || !Number.isFinite(huberDelta) || huberDelta <= 0) {
      throw new ConfigError(
        `${where}: 'huberDelta' expected a number > 0, found ${JSON.stringify(huberDelta)}`,
      );
    }
  }
  if (targetTransform !== undefined && !TARGET_TRANSFORMS.includes(targetTransform as TargetTransform)) {
    throw new ConfigError(
      `${where}: 'targetTransform' expected one of ${TARGET_TRANSFORMS.join(', ')}, found ${JSON.stringify(targetTransform)}`,
    );
  }
}

/** The label as the model is fitted on it. log1p needs labels > -1; the row is named otherwise. */
export function transformLabels(labels: Float32Array, transform: TargetTransform | undefined): Float32Array {
  if (transform === undefined) return labels;
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (!(label > -1)) {
      throw new DataError(
        `target transform log1p: expected labels > -1, found ${label} at row ${i} (clip or shift the label in the feature spec)`,
      );
    }
    out[i] = Math.log1p(label);
  }
  return out;
}

/** Model outputs back in the label's units, in place. */
export function invertScores(scores: Float32Array, transform: TargetTransform | undefined): Float32Array {
  if (transform === 'log1p')
    for (let i = 0; i < scores.length; i++) scores[i] = Math.expm1(scores[i] as number);
  return scores;
}

/** The compiled loss for a task: binary cross-entropy, or the regression loss chosen. */
export function lossFunction(
  task: 'binary' | 'regression',
  loss: RegressionLoss = 'mse',
  huberDelta = DEFAULT_HUBER_DELTA,
): string | ((labels: tf.Tensor, predictions: tf.Tensor) => tf.Scalar) {
  if (task === 'binary') return 'binaryCrossentropy';
  switch (loss) {
    case 'mse':
      return 'meanSquaredError';
    case 'mae':
      return 'meanAbsoluteError';
    case 'huber':
      return (labels, predictions) =>
        tf.losses.huberLoss(labels, predictions, undefined, huberDelta, tf.Reduction.MEAN) as tf.Scalar;
  }
}

/** The same loss on plain arrays, for validation loss and early stopping (means over rows). */
export function lossValue(
  loss: RegressionLoss,
  predictions: Float32Array,
  targets: Float32Array,
  huberDelta = DEFAULT_HUBER_DELTA,
): number {
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) {
    const error = Math.abs((predictions[i] as number) - (targets[i] as number));
    if (loss === 'mse') sum += error * error;
    else if (loss === 'mae') sum += error;
    else sum += error <= huberDelta ? 0.5 * error * error : huberDelta * (error - 0.5 * huberDelta);
  }
  return sum / predictions.length;
}

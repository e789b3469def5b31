import { DataError } from '../errors.ts';

/**
 * Evaluation metrics on typed arrays. Binary metrics take scores in [0, 1] and labels that are
 * exactly 0 or 1. Undefined values are NaN, never a made-up number: AUC with a single class,
 * precision with no predicted positive, recall with no actual positive. Empty input is an error.
 */
export type NumericArray = Float32Array | Float64Array | Uint8Array | Int32Array | readonly number[];

/** sklearn's default: keeps log loss finite for a confident wrong score. */
export const LOG_LOSS_EPSILON = 1e-15;

function checkPaired(what: string, predictions: NumericArray, targets: NumericArray): number {
  if (predictions.length !== targets.length) {
    throw new DataError(
      `${what}: expected as many predictions as labels, found ${predictions.length} and ${targets.length}`,
    );
  }
  if (predictions.length === 0) throw new DataError(`${what}: expected at least one row, found none`);
  for (let i = 0; i < predictions.length; i++) {
    if (!Number.isFinite(predictions[i])) {
      throw new DataError(`${what}: expected finite predictions, found ${predictions[i]} at row ${i}`);
    }
  }
  return predictions.length;
}

function checkBinary(what: string, scores: NumericArray, labels: NumericArray): number {
  const n = checkPaired(what, scores, labels);
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (label !== 0 && label !== 1) {
      throw new DataError(`${what}: expected labels 0 or 1, found ${label} at row ${i}`);
    }
  }
  return n;
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, ties counting one half (Mann-Whitney U with mid-ranks). NaN with a single class.
 */
export function aucRoc(scores: NumericArray, labels: NumericArray): number {
  const n = checkBinary('AUC', scores, labels);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    const score = scores[order[start] as number];
    while (end < n && scores[order[end] as number] === score) end++;
    // Ranks start..end-1 (1-based: start+1..end) share their mean.
    const midRank = (start + 1 + end) / 2;
    for (let j = start; j < end; j++) {
      if (labels[order[j] as number] === 1) {
        positives++;
        positiveRankSum += midRank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy, natural log, scores clipped to [eps, 1 - eps]. */
export function logLoss(scores: NumericArray, labels: NumericArray, epsilon = LOG_LOSS_EPSILON): number {
  const n = checkBinary('log loss', scores, labels);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - epsilon, Math.max(epsilon, scores[i] as number));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / n;
}

/** Mean squared difference between score and label. */
export function brierScore(scores: NumericArray, labels: NumericArray): number {
  const n = checkBinary('Brier score', scores, labels);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += ((scores[i] as number) - (labels[i] as number)) ** 2;
  return sum / n;
}

export interface ConfusionCounts {
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
}

/** A score at or above the threshold predicts the positive class. */
export function confusionAt(scores: NumericArray, labels: NumericArray, threshold = 0.5): ConfusionCounts {
  const n = checkBinary('confusion matrix', scores, labels);
  const counts = { truePositives: 0, falsePositives: 0, trueNegatives: 0, falseNegatives: 0 };
  for (let i = 0; i < n; i++) {
    const predicted = (scores[i] as number) >= threshold;
    if (labels[i] === 1) predicted ? counts.truePositives++ : counts.falseNegatives++;
    else predicted ? counts.falsePositives++ : counts.trueNegatives++;
  }
  return counts;
}

export interface ThresholdMetrics {
  threshold: number;
  accuracy: number;
  /** NaN when nothing is predicted positive. */
  precision: number;
  /** NaN when there is no positive label. */
  recall: number;
}

export function thresholdMetrics(
  scores: NumericArray,
  labels: NumericArray,
  threshold = 0.5,
): ThresholdMetrics {
  const c = confusionAt(scores, labels, threshold);
  const n = scores.length;
  const predictedPositive = c.truePositives + c.falsePositives;
  const actualPositive = c.truePositives + c.falseNegatives;
  return {
    threshold,
    accuracy: (c.truePositives + c.trueNegatives) / n,
    precision: predictedPositive === 0 ? Number.NaN : c.truePositives / predictedPositive,
    recall: actualPositive === 0 ? Number.NaN : c.truePositives / actualPositive,
  };
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** NaN for an empty bin. */
  meanScore: number;
  /** Observed fraction of positives; NaN for an empty bin. */
  positiveRate: number;
}

/**
 * Equal-width bins over [0, 1]: bin i holds scores in [i/b, (i+1)/b), the last one includes 1.
 * Scores outside [0, 1] are an error: they are not probabilities.
 */
export function calibrationBins(scores: NumericArray, labels: NumericArray, binCount = 10): CalibrationBin[] {
  const n = checkBinary('calibration', scores, labels);
  if (!Number.isInteger(binCount) || binCount < 1) {
    throw new DataError(`calibration: expected a positive integer bin count, found ${binCount}`);
  }
  const counts = new Float64Array(binCount);
  const scoreSums = new Float64Array(binCount);
  const positives = new Float64Array(binCount);
  for (let i = 0; i < n; i++) {
    const score = scores[i] as number;
    if (score < 0 || score > 1) {
      throw new DataError(`calibration: expected scores in [0, 1], found ${score} at row ${i}`);
    }
    const bin = Math.min(binCount - 1, Math.floor(score * binCount));
    counts[bin] = (counts[bin] ?? 0) + 1;
    scoreSums[bin] = (scoreSums[bin] ?? 0) + score;
    positives[bin] = (positives[bin] ?? 0) + (labels[i] as number);
  }
  return Array.from({ length: binCount }, (_, bin) => {
    const count = counts[bin] ?? 0;
    return {
      lower: bin / binCount,
      upper: (bin + 1) / binCount,
      count,
      meanScore: count === 0 ? Number.NaN : (scoreSums[bin] ?? 0) / count,
      positiveRate: count === 0 ? Number.NaN : (positives[bin] ?? 0) / count,
    };
  });
}

/** Count-weighted mean |meanScore - positiveRate| over non-empty bins. */
export function expectedCalibrationError(bins: readonly CalibrationBin[]): number {
  let total = 0;
  let weighted = 0;
  for (const bin of bins) {
    if (bin.count === 0) continue;
    total += bin.count;
    weighted += bin.count * Math.abs(bin.meanScore - bin.positiveRate);
  }
  return total === 0 ? Number.NaN : weighted / total;
}

export function rmse(predictions: NumericArray, targets: NumericArray): number {
  const n = checkPaired('RMSE', predictions, targets);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += ((predictions[i] as number) - (targets[i] as number)) ** 2;
  return Math.sqrt(sum / n);
}

export function mae(predictions: NumericArray, targets: NumericArray): number {
  const n = checkPaired('MAE', predictions, targets);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.abs((predictions[i] as number) - (targets[i] as number));
  return sum / n;
}

/** Everything a binary classifier's model version records. JSON-safe except for NaN values. */
export interface BinaryMetrics extends ThresholdMetrics {
  rows: number;
  positiveRate: number;
  auc: number;
  logLoss: number;
  brier: number;
  expectedCalibrationError: number;
  calibration: CalibrationBin[];
}

export function binaryMetrics(
  scores: NumericArray,
  labels: NumericArray,
  options: { threshold?: number; bins?: number } = {},
): BinaryMetrics {
  const calibration = calibrationBins(scores, labels, options.bins ?? 10);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] as number;
  return {
    rows: scores.length,
    positiveRate: positives / scores.length,
    auc: aucRoc(scores, labels),
    logLoss: logLoss(scores, labels),
    brier: brierScore(scores, labels),
    ...thresholdMetrics(scores, labels, options.threshold ?? 0.5),
    expectedCalibrationError: expectedCalibrationError(calibration),
    calibration,
  };
}

/**
 * Coefficient of determination, 1 - SS_res / SS_tot: the share of the label's variance the
 * predictions explain (0 for predicting the mean, negative when worse). NaN when the labels do
 * not vary (fewer than 2 rows, or a constant label).
 */
export function rSquared(predictions: NumericArray, targets: NumericArray): number {
  const n = checkPaired('R²', predictions, targets);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i] as number;
  mean /= n;
  let residual = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const target = targets[i] as number;
    residual += ((predictions[i] as number) - target) ** 2;
    total += (target - mean) ** 2;
  }
  return total === 0 ? Number.NaN : 1 - residual / total;
}

import { describe, expect, it } from 'vitest';
import {
  aucRoc,
  binaryMetrics,
  brierScore,
  calibrationBins,
  expectedCalibrationError,
  logLoss,
  mae,
  rmse,
  thresholdMetrics,
} from '../../src/ml/metrics.ts';

const f32 = (values: number[]) => Float32Array.from(values);

describe('binary metrics against hand-computed values', () => {
  it('AUC: 3 of 4 positive-negative pairs ordered correctly gives 0.75', () => {
    expect(aucRoc(f32([0.1, 0.4, 0.35, 0.8]), f32([0, 0, 1, 1]))).toBeCloseTo(0.75, 12);
  });

  it('AUC counts a tied positive-negative pair as one half', () => {
    // pairs (0.5,0.2)=1, (0.5,0.5)=0.5, (0.9,0.2)=1, (0.9,0.5)=1 -> 3.5 / 4
    expect(aucRoc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo(0.875, 12);
    expect(aucRoc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
  });

  it('AUC is 1 for a perfect ranking, 0 for a reversed one, whatever the input order', () => {
    expect(aucRoc([0.9, 0.1, 0.8, 0.2], [1, 0, 1, 0])).toBe(1);
    expect(aucRoc([0.1, 0.9, 0.2, 0.8], [1, 0, 1, 0])).toBe(0);
  });

  it('AUC is NaN (undefined) with a single class', () => {
    expect(aucRoc([0.1, 0.7], [1, 1])).toBeNaN();
    expect(aucRoc([0.1, 0.7], [0, 0])).toBeNaN();
  });

  it('log loss uses the natural log and clips a confident wrong score to 1e-15', () => {
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo((-Math.log(0.9) - Math.log(0.8)) / 2, 12);
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(1e-15), 9);
  });

  it('Brier score is the mean squared error of the probability', () => {
    expect(brierScore([0.9, 0.2], [1, 0])).toBeCloseTo(0.025, 12);
  });

  it('accuracy, precision and recall at a threshold, a score equal to it counting as positive', () => {
    // 0.5 -> TP, 0.7 -> FP, 0.1 -> TN, 0.3 -> FN
    expect(thresholdMetrics([0.1, 0.5, 0.7, 0.3], [0, 1, 0, 1], 0.5)).toEqual({
      threshold: 0.5,
      accuracy: 0.5,
      precision: 0.5,
      recall: 0.5,
    });
  });

  it('precision is NaN with no predicted positive and recall NaN with no actual positive', () => {
    const none = thresholdMetrics([0.1, 0.5], [0, 1], 0.9);
    expect(none.precision).toBeNaN();
    expect(none.recall).toBe(0);
    expect(none.accuracy).toBe(0.5);
    expect(thresholdMetrics([0.1, 0.6], [0, 0]).recall).toBeNaN();
  });

  it('calibration bins are equal-width, include a score of 1 in the last bin, and give the ECE', () => {
    const bins = calibrationBins([0.1, 0.4, 0.5, 1.0], [0, 1, 1, 1], 2);
    expect(bins).toEqual([
      { lower: 0, upper: 0.5, count: 2, meanScore: 0.25, positiveRate: 0.5 },
      { lower: 0.5, upper: 1, count: 2, meanScore: 0.75, positiveRate: 1 },
    ]);
    expect(expectedCalibrationError(bins)).toBeCloseTo(0.25, 12);
    const empty = calibrationBins([0.05], [0], 4)[3];
    expect(empty?.count).toBe(0);
    expect(empty?.meanScore).toBeNaN();
  });

  it('binaryMetrics bundles every metric', () => {
    const metrics = binaryMetrics(f32([0.1, 0.4, 0.35, 0.8]), Uint8Array.from([0, 0, 1, 1]));
    expect(metrics.rows).toBe(4);
    expect(metrics.positiveRate).toBe(0.5);
    expect(metrics.auc).toBeCloseTo(0.75, 6);
    expect(metrics.calibration).toHaveLength(10);
  });
});

describe('regression metrics', () => {
  it('RMSE and MAE', () => {
    expect(rmse([1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(mae([1, 2, 3], [1, 2, 5])).toBeCloseTo(2 / 3, 12);
  });
});

describe('bad metric input', () => {
  it('refuses empty input, mismatched lengths, non-binary labels, NaN scores and out-of-range calibration', () => {
    expect(() => aucRoc([], [])).toThrow(/AUC: expected at least one row, found none/);
    expect(() => rmse([1], [1, 2])).toThrow(/expected as many predictions as labels, found 1 and 2/);
    expect(() => logLoss([0.5], [2])).toThrow(/expected labels 0 or 1, found 2 at row 0/);
    expect(() => brierScore([0.5, Number.NaN], [0, 1])).toThrow(
      /expected finite predictions, found NaN at row 1/,
    );
    expect(() => calibrationBins([1.5], [1])).toThrow(/expected scores in \[0, 1\], found 1.5 at row 0/);
  });
});

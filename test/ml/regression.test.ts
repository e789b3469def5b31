import { beforeAll, describe, expect, it } from 'vitest';
import type { Partition } from '../../src/data/index.ts';
import { ConfigError, DataError } from '../../src/errors.ts';
import { selectBackend } from '../../src/ml/backend.ts';
import { checkHoldoutSpec, holdoutEndingOn, holdoutStartingOn } from '../../src/ml/holdout.ts';
import { mae, rSquared } from '../../src/ml/metrics.ts';
import { buildTabularModel } from '../../src/ml/models.ts';
import { seededRandom } from '../../src/ml/random.ts';
import { checkTrainingSettings } from '../../src/ml/recipe.ts';
import { lossValue } from '../../src/ml/target.ts';
import { measureTask } from '../../src/ml/taskMetrics.ts';
import { trainModel } from '../../src/ml/train.ts';
import { SYNTHETIC_LAYOUT } from './synthetic.ts';

/** Minutes from the synthetic features: positive, skewed, with a learnable signal. */
function regressionRows(rowCount: number, seed = 3) {
  const random = seededRandom(seed);
  const features = new Float32Array(rowCount * 3);
  const labels = new Float32Array(rowCount);
  for (let i = 0; i < rowCount; i++) {
    const a = random() * 2 - 1;
    const b = random() * 2 - 1;
    const airport = Math.floor(random() * 6);
    features.set([a, b, airport], i * 3);
    labels[i] = Math.exp(2 + a - 0.5 * b + (airport === 3 ? 1 : 0) + (random() - 0.5) * 0.3);
  }
  return { rowCount, features, labels };
}

const build = (seed: number) => buildTabularModel(SYNTHETIC_LAYOUT, { seed, hidden: [8], output: 'linear' });

describe('regression training', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  const data = regressionRows(3000);
  const train = (extra: Record<string, unknown>) =>
    trainModel(data, {
      layout: SYNTHETIC_LAYOUT,
      buildModel: build,
      seed: 5,
      task: 'regression',
      epochs: 25,
      batchSize: 64,
      learningRate: 0.02,
      ...extra,
    });

  it('fits mse, huber and mae losses and a log1p target; scores come back in the label units and beat the mean', async () => {
    const validation = data.labels.slice(Math.floor(3000 * 0.85));
    const mean = validation.reduce((sum, label) => sum + label, 0) / validation.length;
    const constantMae = mae(new Float32Array(validation.length).fill(mean), validation);
    const results: Record<string, number> = {};
    for (const [name, options] of Object.entries({
      mse: { loss: 'mse' },
      huber: { loss: 'huber', huberDelta: 0.5 },
      mae: { loss: 'mae' },
      log1p: { loss: 'mse', targetTransform: 'log1p' },
    })) {
      const result = await train(options);
      expect(result.validationLabels).toEqual(validation);
      results[name] = mae(result.validationScores, validation);
      if (name === 'log1p') {
        // In minutes (labels about 3 to 40), not in log1p units (about 1.4 to 3.7).
        const scoreMean = result.validationScores.reduce((sum, score) => sum + score, 0) / validation.length;
        expect(scoreMean).toBeGreaterThan(mean * 0.7);
        expect(scoreMean).toBeLessThan(mean * 1.3);
      }
      result.model.dispose();
    }
    for (const value of Object.values(results)) expect(value).toBeLessThan(constantMae * 0.6);
    // The losses are different objectives: their models differ.
    expect(new Set(Object.values(results).map((value) => value.toFixed(6))).size).toBe(4);
  }, 120_000);

  it('uses the chosen loss for validation loss and early stopping', () => {
    const predictions = Float32Array.from([0, 0, 0]);
    const targets = Float32Array.from([0.5, 2, -4]);
    expect(lossValue('mse', predictions, targets)).toBeCloseTo((0.25 + 4 + 16) / 3);
    expect(lossValue('mae', predictions, targets)).toBeCloseTo(6.5 / 3);
    // Huber, delta 1: 0.125 (quadratic), then 1 * (2 - 0.5) and 1 * (4 - 0.5).
    expect(lossValue('huber', predictions, targets, 1)).toBeCloseTo((0.125 + 1.5 + 3.5) / 3);
  });

  it('refuses log1p of a label <= -1, naming the row', async () => {
    const bad = regressionRows(200);
    bad.labels[17] = -1;
    await expect(train({ targetTransform: 'log1p', epochs: 1 })).resolves.toBeDefined();
    await expect(
      trainModel(bad, {
        layout: SYNTHETIC_LAYOUT,
        buildModel: build,
        seed: 1,
        task: 'regression',
        targetTransform: 'log1p',
        epochs: 1,
      }),
    ).rejects.toThrowError('target transform log1p: expected labels > -1, found -1 at row 17');
  });
});

describe('task metrics', () => {
  it('measures a regression with MAE, RMSE and R², and skips R² on a constant label with the reason', () => {
    const measured = measureTask('regression', [1, 2, 4], [1, 3, 3]);
    expect(measured.metrics.mae).toBeCloseTo(2 / 3);
    expect(measured.metrics.rmse).toBeCloseTo(Math.sqrt(2 / 3));
    expect(measured.metrics.r2).toBeCloseTo(rSquared([1, 2, 4], [1, 3, 3]));
    expect(measured.metrics.r2).toBeCloseTo(1 - 2 / (8 / 3));
    const constant = measureTask('regression', [1, 2], [5, 5]);
    expect(constant.skipped).toEqual({ r2: 'zero variance: all 2 labels are 5' });
    expect(Object.keys(constant.metrics)).toEqual(['mae', 'rmse']);
    expect(measureTask('regression', [1], [5]).skipped).toEqual({ r2: 'fewer than 2 rows (1)' });
    expect(measureTask('regression', [], []).skipped).toEqual({
      mae: 'no rows',
      rmse: 'no rows',
      r2: 'no rows',
    });
    expect(measureTask('regression', [1, 2], [5, 7], 'slice')).toEqual({
      metrics: { mae: 4.5, rmse: Math.sqrt((16 + 25) / 2) },
      skipped: {},
    });
  });

  it('skips AUC and recall on a one-class holdout, never records NaN for them', () => {
    const measured = measureTask('binary', [0.2, 0.7, 0.4], [0, 0, 0]);
    expect(measured.skipped).toEqual({
      auc: 'one class: all 3 rows are negative',
      recall: 'no positive label among 3 rows',
    });
    expect(Object.keys(measured.metrics).sort()).toEqual([
      'accuracy',
      'brier',
      'expectedCalibrationError',
      'logLoss',
      'precision',
    ]);
    expect(measureTask('binary', [0.2, 0.7], [0, 1], 'slice').metrics).toEqual({
      auc: 1,
      accuracy: 1,
      logLoss: expect.any(Number),
      brier: expect.any(Number),
    });
  });

  it('refuses regression labels where a binary task is measured', () => {
    expect(() => measureTask('binary', [0.5, 0.5], [0, -4])).toThrowError(DataError);
  });
});

function partition(date: string, rows: number): Partition {
  return {
    date,
    dir: `/data/x/date=${date}`,
    files: [],
    manifest: {
      format: 1,
      dataset: 'x',
      date,
      rowCount: rows,
      schema: [],
      files: [],
      createdAt: '',
      inputs: {},
    },
  };
}

describe('holdout', () => {
  const days = new Map(
    [
      ['2024-01-01', 5],
      ['2024-01-02', 1],
      ['2024-01-03', 1],
      ['2024-01-05', 1],
      ['2024-01-06', 1],
    ].map(([date, rows]) => [date as string, partition(date as string, rows as number)]),
  );
  const readDay = async (day: string) => days.get(day);

  it('takes N days ending on D-1, or walks back until minRows', async () => {
    const dates = (partitions: Partition[]) => partitions.map((p) => p.date);
    expect(dates(await holdoutEndingOn({ days: 1 }, '2024-01-06', readDay, 'x'))).toEqual(['2024-01-06']);
    expect(dates(await holdoutEndingOn({ days: 2 }, '2024-01-06', readDay, 'x'))).toEqual([
      '2024-01-05',
      '2024-01-06',
    ]);
    expect(dates(await holdoutEndingOn({ minRows: 7 }, '2024-01-03', readDay, 'x'))).toEqual([
      '2024-01-01',
      '2024-01-02',
      '2024-01-03',
    ]);
  });

  it('names the missing day, retriably, with what it had found', async () => {
    const error = await holdoutEndingOn({ minRows: 3 }, '2024-01-06', readDay, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).retriable).toBe(true);
    expect((error as Error).message).toBe(
      'holdout { minRows: 3 } of x: expected a partition for 2024-01-04, found none; 2 days after it (2024-01-05..2024-01-06) hold 2 rows',
    );
  });

  it('after a training window, says truly what it found', async () => {
    expect((await holdoutStartingOn({ days: 1 }, '2024-01-07', readDay, 'x')).note).toBe(
      'no holdout { days: 1 }: no x partition for 2024-01-07',
    );
    const found = await holdoutStartingOn({ minRows: 10 }, '2024-01-01', readDay, 'x');
    expect(found.note).toBe(
      'holdout { minRows: 10 }: 3 x days 2024-01-01..2024-01-03, 7 rows, fewer than the 10 asked',
    );
  });

  it('refuses malformed specs and regression settings on a binary task at the edge', () => {
    expect(() => checkHoldoutSpec('p', { days: 0 })).toThrowError(ConfigError);
    expect(() => checkHoldoutSpec('p', { days: 1, minRows: 5 })).toThrowError(
      'p: holdout expected { days: N } or { minRows: N } with N a positive integer, found {"days":1,"minRows":5}',
    );
    const settings = {
      seed: 1,
      windowDays: 2,
      epochs: 1,
      batchSize: 8,
      learningRate: 0.1,
      validationFraction: 0.2,
      earlyStopping: { patience: 1 },
    };
    expect(() => checkTrainingSettings('p', { ...settings, loss: 'huber' }, 'binary')).toThrowError(
      "p: 'loss' is a regression setting, found it on a binary task (binary models train with log loss)",
    );
    expect(() =>
      checkTrainingSettings('p', { ...settings, loss: 'mse', huberDelta: 2 }, 'regression'),
    ).toThrowError("p: 'huberDelta' applies to loss 'huber' only, found loss 'mse'");
    expect(() => checkTrainingSettings('p', { ...settings, loss: 'l1' as 'mae' }, 'regression')).toThrowError(
      `p: 'loss' expected one of mse, huber, mae, found "l1"`,
    );
  });
});

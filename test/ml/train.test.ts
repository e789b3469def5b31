import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/ml/backend.ts';
import { buildTabularModel } from '../../src/ml/models.ts';
import { seededPermutation } from '../../src/ml/random.ts';
import { trainModel } from '../../src/ml/train.ts';
import { SYNTHETIC_LAYOUT, syntheticRows } from './synthetic.ts';

const data = syntheticRows(3000);
const build = (seed: number) => buildTabularModel(SYNTHETIC_LAYOUT, { seed, hidden: [8], output: 'sigmoid' });

function weightBytes(model: tfl.LayersModel): number[] {
  return model
    .getWeights()
    .flatMap((w) => Array.from(new Uint32Array((w.dataSync() as Float32Array).slice().buffer)));
}

describe('training', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('is deterministic: same data, seed and backend give bitwise-equal weights; another seed differs', async () => {
    const options = { layout: SYNTHETIC_LAYOUT, buildModel: build, epochs: 3, batchSize: 128 };
    const first = await trainModel(data, { ...options, seed: 11 });
    const second = await trainModel(data, { ...options, seed: 11 });
    const other = await trainModel(data, { ...options, seed: 12 });
    expect(weightBytes(second.model)).toEqual(weightBytes(first.model));
    expect(weightBytes(other.model)).not.toEqual(weightBytes(first.model));
    expect(Array.from(second.validationScores)).toEqual(Array.from(first.validationScores));
  });

  it('learns the signal, keeps curves, and validates on the newest rows', async () => {
    const epochs: number[] = [];
    const result = await trainModel(data, {
      layout: SYNTHETIC_LAYOUT,
      buildModel: build,
      seed: 1,
      epochs: 4,
      batchSize: 64,
      validationFraction: 0.2,
      onEpoch: (record) => epochs.push(record.epoch),
    });
    expect(epochs).toEqual([1, 2, 3, 4]);
    expect(result.trainRows).toBe(2400);
    expect(result.validationRows).toBe(600);
    expect(Array.from(result.validationLabels)).toEqual(Array.from(data.labels.slice(2400)));
    expect(result.curves.map((c) => c.epoch)).toEqual([1, 2, 3, 4]);
    const last = result.curves.at(-1);
    expect(last?.validationMetric).toBeGreaterThan(0.75);
    expect(last?.validationLoss).toBeLessThan(result.curves[0]?.validationLoss ?? 0);
    expect(result.samplesPerSecond).toBeGreaterThan(0);
  });

  it('stops early when validation loss stops improving and restores the best epoch', async () => {
    // Labels that are pure noise: validation loss cannot keep improving.
    const noise = { ...data, labels: data.labels.map((_, i) => (seededPermutation(2, i)[0] === 0 ? 1 : 0)) };
    const result = await trainModel(noise, {
      layout: SYNTHETIC_LAYOUT,
      buildModel: (seed) => buildTabularModel(SYNTHETIC_LAYOUT, { seed, hidden: [32], output: 'sigmoid' }),
      seed: 3,
      epochs: 30,
      batchSize: 32,
      learningRate: 0.05,
      earlyStopping: { patience: 2 },
    });
    expect(result.stoppedEarly).toBe(true);
    expect(result.curves.length).toBe(result.bestEpoch + 2);
    const bestLoss = Math.min(...result.curves.map((c) => c.validationLoss));
    expect(result.curves[result.bestEpoch - 1]?.validationLoss).toBe(bestLoss);
  });

  it('warm starts from a previous model of the same shape and refuses another shape', async () => {
    const previous = (
      await trainModel(data, { layout: SYNTHETIC_LAYOUT, buildModel: build, seed: 5, epochs: 1 })
    ).model;
    const warm = await trainModel(data, {
      layout: SYNTHETIC_LAYOUT,
      buildModel: build,
      seed: 6,
      epochs: 0,
      warmStart: previous,
    });
    expect(weightBytes(warm.model)).toEqual(weightBytes(previous));
    const wider = (seed: number) =>
      buildTabularModel(SYNTHETIC_LAYOUT, { seed, hidden: [9], output: 'sigmoid' });
    await expect(
      trainModel(data, { layout: SYNTHETIC_LAYOUT, buildModel: wider, seed: 6, warmStart: previous }),
    ).rejects.toThrow(/warm start: expected weights shaped .* found/);
  });

  it('refuses features whose length does not match the layout', async () => {
    await expect(
      trainModel({ ...data, rowCount: 10 }, { layout: SYNTHETIC_LAYOUT, buildModel: build, seed: 1 }),
    ).rejects.toThrow(/expected 10 rows of 3 features/);
  });
});

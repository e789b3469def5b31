import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/ml/backend.ts';
import { cycleBucket, inputLayoutFromSlots, modelInputs } from '../../src/ml/inputs.ts';

const slots = [
  { name: 'hour_sin', feature: 'hour', kind: 'cyclic' },
  { name: 'hour_cos', feature: 'hour', kind: 'cyclic' },
  { name: 'origin', feature: 'origin', kind: 'categorical', cardinality: 3 },
];

describe('derived inputs', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('buckets a cycle from float32 sin and cos, exact hours included', () => {
    for (let minute = 0; minute < 1440; minute++) {
      const angle = (2 * Math.PI * minute) / 1440;
      expect(cycleBucket(Math.fround(Math.sin(angle)), Math.fround(Math.cos(angle)), 24)).toBe(
        Math.floor(minute / 60),
      );
    }
  });

  it('crosses categorical inputs in mixed radix', () => {
    const layout = inputLayoutFromSlots(
      slots,
      [],
      [
        { name: 'hour_bucket', kind: 'cycleBucket', feature: 'hour', buckets: 24 },
        { name: 'origin_x_hour', kind: 'cross', inputs: ['origin', 'hour_bucket'] },
      ],
    );
    expect(layout.categorical.map((c) => [c.name, c.cardinality])).toEqual([
      ['origin', 3],
      ['hour_bucket', 24],
      ['origin_x_hour', 72],
    ]);
    const angle = (2 * Math.PI * 15) / 24; // 15:00
    const features = new Float32Array([Math.sin(angle), Math.cos(angle), 2]);
    const tensors = modelInputs(features, layout, 0, 1);
    expect(tensors.slice(1).map((t) => (t.dataSync() as Int32Array)[0])).toEqual([2, 15, 2 * 24 + 15]);
  });
});

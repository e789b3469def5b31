import { describe, expect, it } from 'vitest';
import { parseCudaDevices, planScoringWorkers } from '../../src/ml/devices.ts';

describe('GPU device planning', () => {
  it('parses CUDA_VISIBLE_DEVICES lists of indices and uuids, stopping at an invalid entry like CUDA', () => {
    expect(parseCudaDevices('0,1, 3')).toEqual(['0', '1', '3']);
    expect(parseCudaDevices('GPU-8932f937-d72c-4106-c12f-20bd9faed9f6,1')).toEqual([
      'GPU-8932f937-d72c-4106-c12f-20bd9faed9f6',
      '1',
    ]);
    expect(parseCudaDevices('0,-1,2')).toEqual(['0']);
    expect(parseCudaDevices('2,foo,3')).toEqual(['2']);
    expect(parseCudaDevices('')).toEqual([]);
    expect(parseCudaDevices('-1')).toEqual([]);
    expect(parseCudaDevices('NoDevFiles')).toEqual([]);
    expect(parseCudaDevices(undefined)).toEqual([]);
  });

  it('plans one scoring worker per GPU, each seeing only its own device', () => {
    expect(planScoringWorkers({ gpu: true, devices: ['2', '5'], cores: 16 })).toEqual([
      { index: 0, env: { CUDA_VISIBLE_DEVICES: '2' } },
      { index: 1, env: { CUDA_VISIBLE_DEVICES: '5' } },
    ]);
  });

  it('never puts two GPU workers on one device, but may use fewer', () => {
    expect(planScoringWorkers({ gpu: true, devices: ['0', '1'], cores: 8, requested: 4 })).toHaveLength(2);
    expect(planScoringWorkers({ gpu: true, devices: ['0', '1'], cores: 8, requested: 1 })).toEqual([
      { index: 0, env: { CUDA_VISIBLE_DEVICES: '0' } },
    ]);
  });

  it('refuses a GPU plan with no visible device and a non-positive worker count', () => {
    expect(() => planScoringWorkers({ gpu: true, devices: [], cores: 2 })).toThrow(
      /at least one visible device/,
    );
    expect(() => planScoringWorkers({ gpu: false, cores: 2, requested: 0 })).toThrow(/positive integer/);
  });

  it('plans one worker per core on CPU backends unless told otherwise', () => {
    expect(planScoringWorkers({ gpu: false, cores: 2 })).toEqual([
      { index: 0, env: {} },
      { index: 1, env: {} },
    ]);
    expect(planScoringWorkers({ gpu: false, cores: 2, requested: 3 })).toHaveLength(3);
  });
});

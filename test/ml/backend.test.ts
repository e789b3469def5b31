import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { type BackendLoader, initBackend, parseBackendRequest, selectBackend } from '../../src/ml/backend.ts';

const nothingInstalled: BackendLoader = {
  isInstalled: () => false,
  importPackage: () => Promise.reject(new Error('not installed')),
};

describe('backend selection', () => {
  it('auto falls back to wasm and says why tfjs-node-gpu and tfjs-node were passed over', async () => {
    const choice = await selectBackend('auto', nothingInstalled);
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.detail).toContain('SIMD');
    expect(choice.passedOver).toEqual([
      { name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' },
      { name: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
    ]);
  });

  it('auto passes over an installed tfjs-node that fails to load, naming the failure', async () => {
    const brokenNode: BackendLoader = {
      isInstalled: (name) => name === '@tensorflow/tfjs-node',
      importPackage: () => Promise.reject(new Error('libtensorflow.so.2: cannot open shared object file')),
    };
    const choice = await selectBackend('auto', brokenNode);
    expect(choice.name).toBe('wasm');
    expect(choice.passedOver[1]?.reason).toMatch(/installed but failed to load.*libtensorflow\.so\.2/);
  });

  it('asking for tensorflow when it is not installed is an error saying how to install it', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(
      /NIGHTSHIFT_BACKEND=tensorflow: .*tfjs-node is not installed.*npm install @tensorflow\/tfjs-node@4\.22\.0/,
    );
  });

  it('cpu and wasm can be asked for explicitly, and initBackend memoises the choice', async () => {
    expect((await selectBackend('cpu')).tfBackend).toBe('cpu');
    const first = initBackend('wasm');
    expect(initBackend('wasm')).toBe(first);
    expect((await first).tfBackend).toBe('wasm');
  });

  it('rejects an unknown NIGHTSHIFT_BACKEND value and defaults an empty one to auto', () => {
    expect(parseBackendRequest(undefined)).toBe('auto');
    expect(parseBackendRequest(' WASM ')).toBe('wasm');
    expect(() => parseBackendRequest('gpu')).toThrow(
      /expected one of auto, tensorflow, wasm, cpu, found 'gpu'/,
    );
  });

  it('trains an Embedding layer on wasm thanks to the UnsortedSegmentSum kernel, matching cpu', async () => {
    const trainOnce = async (backend: 'wasm' | 'cpu') => {
      await selectBackend(backend, nothingInstalled);
      const model = tfl.sequential();
      model.add(
        tfl.layers.embedding({
          inputDim: 5,
          outputDim: 2,
          inputLength: 1,
          embeddingsInitializer: tfl.initializers.constant({ value: 0.1 }),
        }),
      );
      model.add(tfl.layers.flatten());
      model.add(tfl.layers.dense({ units: 1, kernelInitializer: 'ones', activation: 'sigmoid' }));
      model.compile({ optimizer: tf.train.sgd(0.5), loss: 'binaryCrossentropy' });
      // Index 1 appears twice in the batch: the gradients of both rows must be summed.
      const x = tf.tensor2d([[1], [1], [3], [4]]);
      const y = tf.tensor2d([[1], [1], [0], [0]]);
      await model.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 });
      const embeddings = model.layers[0]?.getWeights()[0]?.dataSync();
      model.dispose();
      return Array.from(embeddings ?? []);
    };
    const wasm = await trainOnce('wasm');
    const cpu = await trainOnce('cpu');
    // Untouched rows 0 and 2 keep their value; 1 moved up, 3 and 4 down.
    expect(wasm[0]).toBeCloseTo(0.1, 6);
    expect(wasm[2 * 2]).toBeCloseTo(0.1, 6);
    expect(wasm[1 * 2]).toBeGreaterThan(0.1);
    expect(wasm[3 * 2]).toBeLessThan(0.1);
    for (const [index, value] of wasm.entries()) expect(value).toBeCloseTo(cpu[index] ?? Number.NaN, 5);
  });
});

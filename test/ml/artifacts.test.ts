import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError, artifactDir, loadModelArtifact, saveModelArtifact } from '../../src/ml/artifacts.ts';
import { selectBackend } from '../../src/ml/backend.ts';

function smallModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 3, inputShape: [2], activation: 'relu', name: 'hidden' }));
  model.add(tfl.layers.dense({ units: 1, activation: 'sigmoid', name: 'out' }));
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
  return model;
}

function predict(model: tfl.LayersModel): Float32Array {
  const out = model.predict(tf.tensor2d([0.5, -1, 2, 3], [2, 2])) as tf.Tensor;
  return out.dataSync() as Float32Array;
}

describe('model artifacts', () => {
  let home: string;
  beforeAll(async () => {
    await selectBackend('wasm');
    home = await mkdtemp(path.join(tmpdir(), 'nightshift-artifacts-'));
  });

  it("saves TF.js's own layout with a manifest of sums and loads the same model back", async () => {
    const model = smallModel();
    const saved = await saveModelArtifact({
      home,
      model: 'tiny',
      version: 1,
      layersModel: model,
      extras: { 'features.json': '{"slots":[]}\n' },
      metadata: { pipeline: 'test' },
    });
    expect(saved.dir).toBe(path.join(home, 'artifacts', 'tiny', '1'));
    expect((await readdir(saved.dir)).sort()).toEqual([
      'features.json',
      'manifest.json',
      'model.json',
      'weights.bin',
    ]);
    // What tfjs-node's file:// handler reads: a weights manifest pointing at weights.bin.
    const modelJson = JSON.parse(await readFile(path.join(saved.dir, 'model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(modelJson.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      'hidden/kernel',
      'hidden/bias',
      'out/kernel',
      'out/bias',
    ]);
    expect(saved.manifest.files.map((f) => f.name)).toEqual(['model.json', 'weights.bin', 'features.json']);

    const loaded = await loadModelArtifact(saved.dir, saved.manifestSha256);
    expect(Array.from(predict(loaded.model))).toEqual(Array.from(predict(model)));
    expect(loaded.extras['features.json']).toBe('{"slots":[]}\n');
    expect(loaded.manifest.metadata).toEqual({ pipeline: 'test' });
  });

  it('refuses a tampered weights file, naming it', async () => {
    const saved = await saveModelArtifact({ home, model: 'tampered', version: 1, layersModel: smallModel() });
    const weights = path.join(saved.dir, 'weights.bin');
    const bytes = await readFile(weights);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    await writeFile(weights, bytes);
    const error = await loadModelArtifact(saved.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).file).toBe(weights);
    expect((error as Error).message).toMatch(
      /weights\.bin: expected \d+ bytes with sha256 .* tampered with; refusing to load it/,
    );
  });

  it('refuses a manifest rewritten after registration when the registered sum is given', async () => {
    const saved = await saveModelArtifact({
      home,
      model: 'rewritten',
      version: 1,
      layersModel: smallModel(),
    });
    const manifestFile = path.join(saved.dir, 'manifest.json');
    await writeFile(
      manifestFile,
      (await readFile(manifestFile, 'utf8')).replace('"metadata": {}', '"metadata": {"x":1}'),
    );
    await expect(loadModelArtifact(saved.dir, saved.manifestSha256)).rejects.toThrow(
      /manifest\.json: expected sha256 .* as registered/,
    );
  });

  it('refuses a missing file and never overwrites a version unless asked to replace an orphan', async () => {
    await expect(loadModelArtifact(path.join(home, 'artifacts', 'nope', '1'))).rejects.toThrow(
      /manifest\.json: expected this artifact file, found it missing/,
    );
    await saveModelArtifact({ home, model: 'immutable', version: 1, layersModel: smallModel() });
    await expect(
      saveModelArtifact({ home, model: 'immutable', version: 1, layersModel: smallModel() }),
    ).rejects.toThrow(/versions are immutable/);
    await saveModelArtifact({
      home,
      model: 'immutable',
      version: 1,
      layersModel: smallModel(),
      replace: true,
    });
    // No temporary folder is left behind.
    expect(await readdir(path.join(home, 'artifacts', 'immutable'))).toEqual(['1']);
  });

  it('refuses a model name that would escape the artifacts folder', () => {
    expect(() => artifactDir(home, '../etc', 1)).toThrow(/model name/);
    expect(() => artifactDir(home, 'ok', 0)).toThrow(/positive integer/);
  });
});

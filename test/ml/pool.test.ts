import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type SavedArtifact, saveModelArtifact } from '../../src/ml/artifacts.ts';
import { selectBackend } from '../../src/ml/backend.ts';
import { buildTabularModel } from '../../src/ml/models.ts';
import { predictScores } from '../../src/ml/predict.ts';
import { planRowShards, ScoringPool, ShardFailedError, scoreRowsSharded } from '../../src/ml/score/index.ts';
import { SYNTHETIC_LAYOUT, syntheticRows } from './synthetic.ts';

const data = syntheticRows(10_001);
let artifact: SavedArtifact;
let reference: Float32Array;

describe('sharded scoring on a worker pool', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    const home = await mkdtemp(path.join(tmpdir(), 'nightshift-pool-'));
    const model = buildTabularModel(SYNTHETIC_LAYOUT, { seed: 4, hidden: [16, 8], output: 'sigmoid' });
    artifact = await saveModelArtifact({
      home,
      model: 'synthetic',
      version: 1,
      layersModel: model,
      metadata: { inputLayout: SYNTHETIC_LAYOUT },
    });
    reference = predictScores(model, SYNTHETIC_LAYOUT, data.features, data.rowCount, 1000);
  });

  it('plans consecutive row shards covering every row once', () => {
    expect(planRowShards(10, 4).map((s) => [s.name, s.from, s.to])).toEqual([
      ['shard-00000', 0, 4],
      ['shard-00001', 4, 8],
      ['shard-00002', 8, 10],
    ]);
    expect(planRowShards(0, 4)).toEqual([]);
  });

  for (const workers of [1, 2, 3]) {
    it(`gives the single-threaded scores with ${workers} worker(s) and uneven shards`, async () => {
      const pool = await ScoringPool.open({
        artifactDir: artifact.dir,
        manifestSha256: artifact.manifestSha256,
        workers,
        microBatch: 1000,
        backend: 'wasm',
      });
      try {
        expect(pool.backend).toBe('wasm');
        const scores = await scoreRowsSharded(pool, data.features, data.rowCount, 3, 3333);
        let maxDifference = 0;
        for (let i = 0; i < scores.length; i++)
          maxDifference = Math.max(maxDifference, Math.abs((scores[i] ?? 0) - (reference[i] ?? 0)));
        expect(maxDifference).toBeLessThanOrEqual(1e-6);
        // Same backend and micro-batch: in fact bitwise equal.
        expect(Buffer.from(scores.buffer).equals(Buffer.from(reference.buffer))).toBe(true);
      } finally {
        await pool.close();
      }
    });
  }

  it('retries the shard of a worker killed mid-shard on a fresh worker, every row scored once', async () => {
    const pool = await ScoringPool.open({
      artifactDir: artifact.dir,
      workers: 2,
      microBatch: 1000,
      backend: 'wasm',
      crashMidShard: (shard, attempt) => shard === 'shard-00001' && attempt === 1,
    });
    try {
      const scores = await scoreRowsSharded(pool, data.features, data.rowCount, 3, 2500);
      expect(Buffer.from(scores.buffer).equals(Buffer.from(reference.buffer))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('fails the task naming the shard when every attempt dies', async () => {
    const pool = await ScoringPool.open({
      artifactDir: artifact.dir,
      workers: 1,
      backend: 'wasm',
      maxAttempts: 2,
      crashMidShard: (shard) => shard === 'shard-00002',
    });
    try {
      const error = await scoreRowsSharded(pool, data.features, data.rowCount, 3, 4000).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ShardFailedError);
      expect((error as ShardFailedError).shard).toBe('shard-00002');
      expect((error as Error).message).toMatch(
        /shard shard-00002 failed after 2 attempt\(s\): worker exited with code 70/,
      );
    } finally {
      await pool.close();
    }
  });

  it('refuses to start on an artifact whose registered sum does not match', async () => {
    await expect(
      ScoringPool.open({
        artifactDir: artifact.dir,
        manifestSha256: 'f'.repeat(64),
        workers: 1,
        backend: 'wasm',
      }),
    ).rejects.toThrow(/could not load the model: .*manifest\.json: expected sha256 f+ as registered/);
  });

  it('stops a worker that failed to load, without waiting for the pool to close', async () => {
    const pool = ScoringPool.start({
      artifactDir: artifact.dir,
      manifestSha256: 'f'.repeat(64),
      workers: 2,
      backend: 'wasm',
    });
    await expect(pool.started).rejects.toThrow(/could not load the model/);
    // Each failed worker is asked to stop as soon as its load fails (a thread left running would
    // keep the process alive, one more on every retry of a long-lived worker process).
    for (let waited = 0; pool.threads > 0 && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(pool.threads).toBe(0);
    await pool.close();
  });
});

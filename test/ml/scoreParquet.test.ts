import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withDuckSession } from '../../src/data/duckdb.ts';
import { listPartitions, type Partition, prepareFlights } from '../../src/data/index.ts';
import type { SavedArtifact } from '../../src/ml/artifacts.ts';
import { selectBackend } from '../../src/ml/backend.ts';
import { loadPipeline } from '../../src/ml/pipeline.ts';
import { planFileShards, scoreBatch } from '../../src/ml/score/index.ts';
import { saveCandidateArtifact, trainPipeline } from '../../src/ml/trainPipeline.ts';

let dir: string;
let artifact: SavedArtifact;
let scoring: Partition[];

async function predictions(
  outputDir: string,
): Promise<{ ids: bigint[]; scores: Map<bigint, number>; versions: number[] }> {
  return withDuckSession(async (connection) => {
    const rows = (
      await connection.runAndReadAll(
        `SELECT id, score, model_version, CAST(logical_date AS VARCHAR) FROM read_parquet('${outputDir}/shard-*.parquet')`,
      )
    ).getRows();
    return {
      ids: rows.map((row) => row[0] as bigint),
      scores: new Map(rows.map((row) => [row[0] as bigint, row[1] as number])),
      versions: [...new Set(rows.map((row) => row[2] as number))],
    };
  });
}

describe('batch scoring from Parquet partitions to Parquet shards', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nightshift-score-'));
    const prepared = await prepareFlights({ dataDir: dir, from: '2001-01-08', to: '2001-01-11' });
    const partitions = await listPartitions(prepared.datasetDir);
    const backend = await selectBackend('wasm');
    const pipeline = await loadPipeline('flights-delay');
    const candidate = await trainPipeline({
      pipeline,
      partitions: partitions.slice(0, 2),
      backend,
      overrides: { epochs: 1 },
    });
    artifact = await saveCandidateArtifact(path.join(dir, 'home'), candidate, 'flights-delay', 1);
    scoring = partitions.slice(2);
  });

  const run = (outputDir: string, workers: number, extra: Record<string, unknown> = {}) =>
    scoreBatch({
      model: 'flights-delay',
      modelVersion: 1,
      artifactDir: artifact.dir,
      manifestSha256: artifact.manifestSha256,
      partitions: scoring,
      outputDir,
      logicalDate: '2001-01-10',
      workers,
      backend: 'wasm',
      shardRows: 1,
      ...extra,
    });

  it('plans one shard per group of whole files, in date order', () => {
    const files = [
      { date: '2001-01-02', file: '/b', rows: 5, sha256: 'x' },
      { date: '2001-01-01', file: '/a', rows: 5, sha256: 'y' },
      { date: '2001-01-03', file: '/c', rows: 5, sha256: 'z' },
    ];
    expect(planFileShards(files, 8).map((s) => s.files.map((f) => f.file))).toEqual([['/a', '/b'], ['/c']]);
  });

  it('gives the same score for every id with 1 and 2 workers, every id exactly once, and reruns skip verified shards', async () => {
    const one = path.join(dir, 'out-1');
    const two = path.join(dir, 'out-2');
    const first = await run(one, 1);
    await run(two, 2);
    const expectedRows = scoring.reduce((sum, p) => sum + p.manifest.rowCount, 0);
    expect(first.manifest.rowCount).toBe(expectedRows);
    expect(first.manifest.shards.map((s) => s.shard)).toEqual(['shard-00000', 'shard-00001']);
    const a = await predictions(one);
    const b = await predictions(two);
    expect(a.ids.length).toBe(expectedRows);
    expect(new Set(a.ids).size).toBe(expectedRows);
    expect(a.versions).toEqual([1]);
    for (const [id, score] of a.scores)
      expect(Math.abs((b.scores.get(id) ?? Number.NaN) - score)).toBeLessThanOrEqual(1e-6);

    const rerun = await run(one, 2);
    expect(rerun.skippedShards).toBe(2);
    expect(rerun.scoredShards).toBe(0);
    // A damaged shard output is rescored, the other one kept.
    const damaged = path.join(one, 'shard-00001.parquet');
    await writeFile(damaged, (await readFile(damaged)).subarray(0, 100));
    const repair = await run(one, 1);
    expect(repair.skippedShards).toBe(1);
    expect(repair.scoredShards).toBe(1);
    expect((await predictions(one)).ids.length).toBe(expectedRows);
  });

  it('retries a shard whose worker is killed mid-shard: every input id appears exactly once', async () => {
    const out = path.join(dir, 'out-killed');
    const result = await run(out, 2, {
      crashMidShard: (shard: string, attempt: number) => shard === 'shard-00001' && attempt === 1,
    });
    const expectedRows = scoring.reduce((sum, p) => sum + p.manifest.rowCount, 0);
    const { ids } = await predictions(out);
    expect(result.manifest.rowCount).toBe(expectedRows);
    expect(ids.length).toBe(expectedRows);
    expect(new Set(ids).size).toBe(expectedRows);
    const manifest = JSON.parse(await readFile(path.join(out, '_manifest.json'), 'utf8'));
    expect(manifest.shards).toHaveLength(2);
  });
});

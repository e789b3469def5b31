import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { withDuckSession } from '../../src/data/duckdb.ts';
import { listPartitions, type Partition, prepareFlights, readFeatures } from '../../src/data/index.ts';
import type { SavedArtifact } from '../../src/ml/artifacts.ts';
import { selectBackend } from '../../src/ml/backend.ts';
import { loadPipeline } from '../../src/ml/pipeline.ts';
import { predictScores } from '../../src/ml/predict.ts';
import {
  closeIdleScoringPools,
  type InputFile,
  type PredictionsManifest,
  planShards,
  ScoringPool,
  type ShardJobSpec,
  scoreBatch,
  scoreShardHere,
} from '../../src/ml/score/index.ts';
import { saveCandidateArtifact, trainPipeline } from '../../src/ml/trainPipeline.ts';

let dir: string;
let artifact: SavedArtifact;
/** The same model, saved as another model's version 1; and another model trained with another seed. */
let sameWeightsOtherName: SavedArtifact;
let otherWeights: SavedArtifact;
let scoring: Partition[];
/** Scores of the scoring days computed in this thread, by id: what every pool must reproduce. */
let reference: Map<bigint, number>;

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

/** Every input id exactly once, each with the single-threaded score (within 1e-6). */
async function expectReferenceScores(outputDir: string, days: readonly Partition[] = scoring): Promise<void> {
  const expectedRows = days.reduce((sum, p) => sum + p.manifest.rowCount, 0);
  const { ids, scores, versions } = await predictions(outputDir);
  expect(ids.length).toBe(expectedRows);
  expect(new Set(ids).size).toBe(expectedRows);
  expect(versions).toEqual([1]);
  let worst = 0;
  for (const [id, score] of scores) {
    worst = Math.max(worst, Math.abs((reference.get(id) ?? Number.NaN) - score));
  }
  expect(worst).toBeLessThanOrEqual(1e-6);
}

const manifestOf = async (outputDir: string): Promise<PredictionsManifest> =>
  JSON.parse(await readFile(path.join(outputDir, '_manifest.json'), 'utf8')) as PredictionsManifest;

describe('shard plans', () => {
  const file = (date: string, name: string, rows: number, rowGroups?: number[]): InputFile => ({
    date,
    file: `/${name}`,
    rows,
    sha256: name,
    rowGroups,
  });

  it('groups whole small files in date order up to the shard size', () => {
    const files = [file('2001-01-02', 'b', 5), file('2001-01-01', 'a', 5), file('2001-01-03', 'c', 5)];
    const shards = planShards(files, { shardRows: 8, workers: 1 });
    // 15 rows in shards of about 8: two shards, each file in the one its middle row falls in.
    expect(shards.map((s) => s.pieces.map((p) => [p.file, p.from, p.to]))).toEqual([
      [['/a', 0, 5]],
      [
        ['/b', 0, 5],
        ['/c', 0, 5],
      ],
    ]);
  });

  it('cuts one day by row groups so that two workers get a shard each', () => {
    const day = [file('2001-01-02', 'day', 16_850, [8192, 8192, 466])];
    expect(planShards(day, { shardRows: 262_144, workers: 1 }).map((s) => s.pieces)).toHaveLength(1);
    const shards = planShards(day, { shardRows: 262_144, workers: 2 });
    expect(shards.map((s) => [s.name, s.rows, s.pieces.map((p) => [p.file, p.from, p.to])])).toEqual([
      ['shard-00000', 8192, [['/day', 0, 8192]]],
      ['shard-00001', 8658, [['/day', 8192, 16_850]]],
    ]);
    // A multiple of the workers: 3 shards of about 250 rows for 2 workers become 4.
    const week = Array.from({ length: 7 }, (_, i) => file(`2001-01-0${i + 1}`, `d${i}`, 100));
    expect(planShards(week, { shardRows: 250, workers: 2 })).toHaveLength(4);
    // No more shards than row groups; a file whose groups do not add up is cut only whole.
    expect(planShards(day, { shardRows: 1, workers: 8 })).toHaveLength(3);
    expect(planShards([file('2001-01-02', 'x', 100, [60])], { shardRows: 1, workers: 2 })).toHaveLength(1);
  });

  it('covers every row of every file once, in order, the same way every time', () => {
    const files: InputFile[] = [];
    for (let day = 1; day <= 9; day++) {
      const groups = Array.from(
        { length: 1 + (day % 4) },
        (_, i) => 1000 + ((day * 7919 + i * 104_729) % 9000),
      );
      files.push(
        file(
          `2001-01-0${day}`,
          `d${day}`,
          groups.reduce((a, b) => a + b, 0),
          groups,
        ),
      );
    }
    for (const options of [
      { shardRows: 5000, workers: 1 },
      { shardRows: 262_144, workers: 3 },
      { shardRows: 1, workers: 2 },
    ]) {
      const shards = planShards(files, options);
      expect(planShards([...files].reverse(), options)).toEqual(shards);
      expect(shards.map((s) => s.name)).toEqual(shards.map((_, i) => `shard-${String(i).padStart(5, '0')}`));
      const pieces = shards.flatMap((s) => s.pieces);
      for (const input of files) {
        const ranges = pieces.filter((p) => p.file === input.file).map((p) => [p.from, p.to]);
        const flat = ranges.flat();
        expect(flat[0]).toBe(0);
        expect(flat.at(-1)).toBe(input.rows);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.[0]).toBe(ranges[i - 1]?.[1]);
      }
      expect(shards.length).toBeGreaterThanOrEqual(options.workers);
    }
  });
});

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
    sameWeightsOtherName = await saveCandidateArtifact(path.join(dir, 'home'), candidate, 'other-model', 1);
    const reseeded = await trainPipeline({
      pipeline,
      partitions: partitions.slice(0, 2),
      backend,
      overrides: { epochs: 1, seed: 12345 },
    });
    otherWeights = await saveCandidateArtifact(path.join(dir, 'home2'), reseeded, 'flights-delay', 1);
    scoring = partitions.slice(2);
    const { batch } = await readFeatures({
      partitions: scoring,
      fitted: candidate.fitted,
      withLabels: false,
    });
    const scores = predictScores(candidate.model, candidate.layout, batch.features, batch.rowCount);
    const ids = batch.ids as BigInt64Array;
    reference = new Map([...ids].map((id, row) => [id, scores[row] as number]));
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
      ...extra,
    });

  for (const workers of [1, 2, 3]) {
    it(`gives the single-threaded scores with ${workers} worker(s) on row-group shards, every id once`, async () => {
      const out = path.join(dir, `out-${workers}`);
      // 8,192 rows a shard: each day's row groups are shards of their own, cut mid-file.
      const result = await run(out, workers, { shardRows: 8192 });
      const manifest = await manifestOf(out);
      expect(manifest.rowCount).toBe(result.manifest.rowCount);
      expect(manifest.workers).toBe(workers);
      expect(manifest.shards.length).toBeGreaterThanOrEqual(4);
      expect(manifest.shards.some((s) => s.inputs.some((input) => input.from > 0))).toBe(true);
      await expectReferenceScores(out);
    });
  }

  it('hands its shards to another scorer (as ctx.shards does) and gets the same scores', async () => {
    const out = path.join(dir, 'distributed');
    const handed: string[] = [];
    try {
      const result = await run(out, 2, {
        shardRows: 8192,
        distribute: async (todo: readonly ShardJobSpec[]) => {
          // As workers would: each shard scored from its JSON spec alone, two at a time.
          const specs = todo.map((job) => JSON.parse(JSON.stringify(job)) as ShardJobSpec);
          handed.push(...specs.map((spec) => spec.shard.name));
          await Promise.all(specs.map((spec) => scoreShardHere(spec)));
        },
      });
      expect(handed).toEqual(result.manifest.shards.map((shard) => shard.shard));
      expect(result.scoredShards).toBe(handed.length);
      await expectReferenceScores(out);
      // A rerun finds every shard done and hands nothing out.
      handed.length = 0;
      const rerun = await run(out, 2, { shardRows: 8192, distribute: async () => void handed.push('x') });
      expect([rerun.skippedShards, handed]).toEqual([result.manifest.shards.length, []]);
    } finally {
      await closeIdleScoringPools();
    }
  });

  it('scores a single day on two workers: two shards of the one file, one per worker', async () => {
    const out = path.join(dir, 'one-day');
    const day = scoring.slice(0, 1);
    await scoreBatch({
      model: 'flights-delay',
      modelVersion: 1,
      artifactDir: artifact.dir,
      manifestSha256: artifact.manifestSha256,
      partitions: day,
      outputDir: out,
      logicalDate: day[0]?.date as string,
      workers: 2,
      backend: 'wasm',
    });
    const manifest = await manifestOf(out);
    expect(manifest.workers).toBe(2);
    expect(manifest.shards).toHaveLength(2);
    const file = day[0]?.files[0];
    expect(manifest.shards.map((s) => s.inputs.map((input) => input.file))).toEqual([[file], [file]]);
    expect(manifest.shards[0]?.inputs[0]?.to).toBe(manifest.shards[1]?.inputs[0]?.from);
    expect(new Set(manifest.shards.map((s) => s.worker))).toEqual(new Set([0, 1]));
    await expectReferenceScores(out, day);
  });

  it('reruns skip verified shards and rescore a damaged one', async () => {
    const out = path.join(dir, 'rerun');
    const first = await run(out, 2);
    expect(first.scoredShards).toBe(first.manifest.shards.length);
    const rerun = await run(out, 2);
    expect([rerun.skippedShards, rerun.scoredShards]).toEqual([first.manifest.shards.length, 0]);
    const damaged = path.join(out, 'shard-00001.parquet');
    await writeFile(damaged, (await readFile(damaged)).subarray(0, 100));
    const repair = await run(out, 2);
    expect([repair.skippedShards, repair.scoredShards]).toEqual([first.manifest.shards.length - 1, 1]);
    await expectReferenceScores(out);
  });

  it('rescores every shard for another artifact with the same version number, and records which', async () => {
    const out = path.join(dir, 'artifacts');
    const first = await run(out, 2);
    const shards = first.manifest.shards.length;
    expect(first.manifest.shards.map((shard) => [shard.model, shard.artifactSha256])).toEqual(
      Array(shards).fill(['flights-delay', artifact.manifestSha256]),
    );
    // Another model's version 1 (the same weights: only the name differs).
    const renamed = await run(out, 2, {
      model: 'other-model',
      artifactDir: sameWeightsOtherName.dir,
      manifestSha256: sameWeightsOtherName.manifestSha256,
    });
    expect([renamed.skippedShards, renamed.scoredShards]).toEqual([0, shards]);
    expect(new Set(renamed.manifest.shards.map((shard) => shard.model))).toEqual(new Set(['other-model']));
    // The same name and version number, another artifact (a store that was reset, say).
    expect(otherWeights.manifestSha256).not.toBe(artifact.manifestSha256);
    const retrained = await run(out, 2, {
      artifactDir: otherWeights.dir,
      manifestSha256: otherWeights.manifestSha256,
    });
    expect([retrained.skippedShards, retrained.scoredShards]).toEqual([0, shards]);
    expect(new Set(retrained.manifest.shards.map((shard) => shard.artifactSha256))).toEqual(
      new Set([otherWeights.manifestSha256]),
    );
    const { scores } = await predictions(out);
    const changed = [...scores].filter(([id, score]) => Math.abs((reference.get(id) ?? 0) - score) > 1e-6);
    expect(changed.length).toBeGreaterThan(scores.size / 2);
    // And back: the first artifact's scores again, every shard rescored.
    const back = await run(out, 2);
    expect([back.skippedShards, back.scoredShards]).toEqual([0, shards]);
    await expectReferenceScores(out);
  });

  it('retries a shard whose worker is killed mid-shard: every input id appears exactly once', async () => {
    const out = path.join(dir, 'out-killed');
    const result = await run(out, 2, {
      crashMidShard: (shard: string, attempt: number) => shard === 'shard-00001' && attempt === 1,
    });
    expect(result.manifest.shards).toHaveLength(2);
    await expectReferenceScores(out);
  });

  it('has a worker start its next shard while the last one is written, and retries both if it dies holding them', async () => {
    const sent: { shard: string; held: number; attempt: number }[] = [];
    const logger = pino(
      { level: 'debug' },
      {
        write(line: string) {
          const entry = JSON.parse(line) as { msg: string; shard: string; held: number; attempt: number };
          if (entry.msg === 'shard sent to worker') sent.push(entry);
        },
      },
    );
    const out = path.join(dir, 'pipelined');
    await run(out, 1, { shardRows: 8192, logger });
    // One worker, several shards: some were sent while it still held (was writing) the previous
    // one, and never a third.
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(sent.filter((entry) => entry.held === 2).length).toBeGreaterThan(0);
    expect(Math.max(...sent.map((entry) => entry.held))).toBe(2);
    await expectReferenceScores(out);

    sent.length = 0;
    const killed = path.join(dir, 'pipelined-killed');
    await run(killed, 1, {
      shardRows: 8192,
      logger,
      crashMidShard: (shard: string, attempt: number) => shard === 'shard-00002' && attempt === 1,
    });
    expect(sent.filter((entry) => entry.shard === 'shard-00002').map((entry) => entry.attempt)).toEqual([
      1, 2,
    ]);
    await expectReferenceScores(killed);
  });

  it('closes its pool mid-shard without harm: the shards are refused, the process lives on', async () => {
    // Terminating a worker thread while DuckDB has a call in flight aborts the whole process: a
    // closing pool asks its workers to stop instead. Closed at several points of a run.
    for (const delay of [20, 40, 60, 80, 100, 120]) {
      const pool = await ScoringPool.open({
        artifactDir: artifact.dir,
        manifestSha256: artifact.manifestSha256,
        workers: 2,
        backend: 'wasm',
      });
      // Refused if closed before its shards were sent ('is closed') or answered ('was closed');
      // complete otherwise.
      const outcome = run(path.join(dir, `closed-${delay}`), 2, { pool, shardRows: 4096 }).then(
        () => 'scored',
        (error: Error) => error.message,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      await pool.close();
      expect(await outcome).toMatch(/^(scored|the scoring pool (is|was) closed)$/);
    }
    const after = path.join(dir, 'after-close');
    await run(after, 2, { shardRows: 8192 });
    await expectReferenceScores(after);
  });

  it('scores on a pool the caller started, planned for its size', async () => {
    const pool = await ScoringPool.open({
      artifactDir: artifact.dir,
      manifestSha256: artifact.manifestSha256,
      workers: 3,
      backend: 'wasm',
    });
    try {
      const out = path.join(dir, 'own-pool');
      const result = await run(out, 1, { pool });
      expect(result.manifest.workers).toBe(3);
      expect(new Set(result.manifest.shards.map((s) => s.worker)).size).toBe(3);
      await expectReferenceScores(out);
    } finally {
      await pool.close();
    }
  });
});

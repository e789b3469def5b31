import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/data/hash.ts';
import { listPartitions, type Partition, prepareFlights } from '../../src/data/index.ts';
import { ChecksumError, DataError } from '../../src/errors.ts';
import { ArtifactError, loadModelArtifact, type SavedArtifact } from '../../src/ml/artifacts.ts';
import { selectBackend } from '../../src/ml/backend.ts';
import { loadPipeline } from '../../src/ml/pipeline.ts';
import {
  type IncompleteOutput,
  PREDICTIONS_MANIFEST,
  readPredictions,
  scoreBatch,
} from '../../src/ml/score/index.ts';
import { saveCandidateArtifact, trainPipeline } from '../../src/ml/trainPipeline.ts';
import { flipBit } from '../helpers/damage.ts';

/**
 * Issue 13, items 1, 2 and 4 where models and predictions are read: a scoring worker verifies
 * the bytes of its shard's files itself; a failed run leaves no manifest, says which shards are
 * missing, and a reader never takes the folder for complete; artifact and predictions manifests
 * name only files of their own folder.
 */

let dir: string;
let artifact: SavedArtifact;
let datasetDir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightshift-integrity-'));
  const prepared = await prepareFlights({ dataDir: dir, from: '2001-01-08', to: '2001-01-11' });
  datasetDir = prepared.datasetDir;
  const partitions = await listPartitions(datasetDir);
  const backend = await selectBackend('wasm');
  const candidate = await trainPipeline({
    pipeline: await loadPipeline('flights-delay'),
    partitions: partitions.slice(0, 2),
    backend,
    overrides: { epochs: 1 },
  });
  artifact = await saveCandidateArtifact(path.join(dir, 'home'), candidate, 'flights-delay', 1);
}, 120_000);

const score = (partitions: readonly Partition[], outputDir: string, extra: Record<string, unknown> = {}) =>
  scoreBatch({
    model: 'flights-delay',
    modelVersion: 1,
    artifactDir: artifact.dir,
    manifestSha256: artifact.manifestSha256,
    partitions,
    outputDir,
    logicalDate: '2001-01-11',
    workers: 1,
    shardRows: 8192,
    backend: 'wasm',
    ...extra,
  });

describe('a scoring run that fails part way', () => {
  it('has the worker refuse a file whose bytes changed after planning, and leaves the folder without a manifest', async () => {
    const copy = path.join(dir, 'late-damage');
    await cp(datasetDir, copy, { recursive: true });
    const days = (await listPartitions(copy)).slice(2);
    const out = path.join(dir, 'late-damage-out');
    // A complete run first: its manifest must go once a rerun starts replacing shards.
    const complete = await score(days, out);
    expect(complete.manifest.shards.length).toBeGreaterThanOrEqual(4);

    // Damaged after the listing verified it: only the worker's own check can catch it.
    const damaged = days[1]?.files[0] as string;
    const recorded = days[1]?.manifest.files[0]?.sha256 as string;
    await flipBit(damaged, 4096, 0x01);
    const found = await sha256File(damaged);
    const reports: IncompleteOutput[] = [];
    const error = await score(days, out, {
      modelVersion: 2,
      onIncomplete: (incomplete: IncompleteOutput) => reports.push(incomplete),
    }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error & { retriable: boolean },
    );
    expect(error?.message).toContain(`${damaged}: expected sha256 ${recorded}`);
    expect(error?.message).toContain(found);
    expect(error?.retriable).toBe(false);

    const entries = await readdir(out);
    expect(entries).not.toContain(PREDICTIONS_MANIFEST);
    const [report] = reports;
    expect(reports).toHaveLength(1);
    const planned = complete.manifest.shards.map((shard) => shard.shard);
    expect([...(report?.written ?? []), ...(report?.missing ?? [])].sort()).toEqual(planned);
    expect(report?.missing.length).toBeGreaterThan(0);
    // The shards of the damaged day (the later ones) are among the missing.
    expect(report?.missing).toContain(planned.at(-1));

    const read = readPredictions(out);
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(
      new RegExp(
        `${out}: expected complete predictions with _manifest\\.json, found none \\(.*shard-\\d+\\.parquet`,
      ),
    );
  }, 120_000);
});

describe('reading predictions', () => {
  it('returns the verified shards of a complete folder and refuses a damaged one by name', async () => {
    const days = (await listPartitions(datasetDir)).slice(2);
    const out = path.join(dir, 'complete-out');
    await score(days, out);
    const read = await readPredictions(out);
    expect(read.files.map((file) => path.basename(file))).toEqual(
      read.manifest.shards.map((shard) => `${shard.shard}.parquet`),
    );
    expect(read.manifest.rowCount).toBe(days.reduce((sum, day) => sum + day.manifest.rowCount, 0));

    const shard = read.files[1] as string;
    await flipBit(shard, 100, 0x01);
    await expect(readPredictions(out)).rejects.toThrow(ChecksumError);
    await expect(readPredictions(out)).rejects.toThrow(shard);
    await flipBit(shard, 100, 0x01);

    const manifestFile = path.join(out, PREDICTIONS_MANIFEST);
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.shards[0].shard = '../complete-out/shard-00001';
    await writeFile(manifestFile, JSON.stringify(manifest));
    await expect(readPredictions(out)).rejects.toThrow(
      `${manifestFile}: lists shard "../complete-out/shard-00001": expected a plain file name inside the folder`,
    );
  }, 120_000);
});

describe('artifact manifests', () => {
  it.each(['../1/weights.bin', '/etc/passwd', 'sub/weights.bin'])(
    'refuse the name %j, naming the manifest',
    async (name) => {
      const copy = path.join(dir, 'artifact-copies', String(Math.random()).slice(2));
      await cp(artifact.dir, copy, { recursive: true });
      const manifestFile = path.join(copy, 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
      const weights = manifest.files.find((file: { name: string }) => file.name === 'weights.bin');
      weights.name = name;
      await writeFile(manifestFile, JSON.stringify(manifest));
      const load = loadModelArtifact(copy);
      await expect(load).rejects.toThrow(ArtifactError);
      await expect(load).rejects.toThrow(`${manifestFile}: lists ${JSON.stringify(name)}`);
    },
  );
});

import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BIGINT, type DuckDBAppender, DuckDBDataChunk, FLOAT } from '@duckdb/node-api';
import type * as tfl from '@tensorflow/tfjs-layers';
import { openDuckSession, sqlString } from '../../data/duckdb.ts';
// Not data/index.ts: that also loads kafkajs, 70-150 ms of every scoring worker's start.
import { openFeatureStream, parseFittedFeatures, type RowRange } from '../../data/features/index.ts';
import { sha256File } from '../../data/hash.ts';
import { readManifest } from '../../data/manifest.ts';
import { readPartition } from '../../data/partitions.ts';
import { plainPartitionOf } from '../../data/scoreInputs.ts';
import { DataError, NightshiftError } from '../../errors.ts';
import type { InputLayout } from '../inputs.ts';
import { predictScores } from '../predict.ts';
import type { TargetTransform } from '../target.ts';
import type { FileShard } from './plan.ts';
import type { FileShardJob, FileShardResult } from './protocol.ts';

/**
 * One shard's predictions: `<output>/<shard>.parquet` (id, score, model_version, logical_date)
 * and a sidecar `<shard>.json` written after it, recording the inputs and the file's sha256.
 * A rerun skips a shard whose sidecar matches its inputs, model (name, version and artifact
 * sum) and date and whose file still has the recorded sum.
 */
export interface ShardSidecar {
  format: 3;
  shard: string;
  /** Rows [from, to) of each input file (of `fileRows`). */
  inputs: { file: string; sha256: string; fileRows: number; from: number; to: number }[];
  /** The artifact that scored it: another model with the same version number is another artifact. */
  model: string;
  modelVersion: number;
  /** The artifact manifest's sum, as the registry records it (null when scored without one). */
  artifactSha256: string | null;
  logicalDate: string;
  rows: number;
  errorRows: number;
  bytes: number;
  sha256: string;
  /** The pool worker (by index) that scored it: how a reader sees the work was shared. */
  worker: number;
}

export function shardFiles(outputDir: string, shard: string): { parquet: string; sidecar: string } {
  return {
    parquet: path.join(outputDir, `${shard}.parquet`),
    sidecar: path.join(outputDir, `${shard}.json`),
  };
}

/** What a shard's output was made with, besides its inputs. */
export type ShardIdentity = Pick<ShardSidecar, 'model' | 'modelVersion' | 'artifactSha256' | 'logicalDate'>;

/** The completed shard's sidecar when its output is intact and made from the same inputs and artifact. */
export async function completedShard(
  outputDir: string,
  shard: FileShard,
  identity: ShardIdentity,
): Promise<ShardSidecar | undefined> {
  const files = shardFiles(outputDir, shard.name);
  let sidecar: ShardSidecar;
  try {
    sidecar = JSON.parse(await readFile(files.sidecar, 'utf8')) as ShardSidecar;
  } catch {
    return undefined;
  }
  const sameInputs =
    sidecar.format === 3 &&
    sidecar.model === identity.model &&
    sidecar.modelVersion === identity.modelVersion &&
    sidecar.artifactSha256 === identity.artifactSha256 &&
    sidecar.logicalDate === identity.logicalDate &&
    JSON.stringify(sidecar.inputs) === JSON.stringify(shardInputs(shard));
  if (!sameInputs) return undefined;
  const size = await stat(files.parquet).then(
    (s) => s.size,
    () => -1,
  );
  if (size !== sidecar.bytes || (await sha256File(files.parquet)) !== sidecar.sha256) return undefined;
  return sidecar;
}

function shardInputs(shard: FileShard): ShardSidecar['inputs'] {
  return shard.pieces.map((piece) => ({
    file: piece.file,
    sha256: piece.sha256,
    fileRows: piece.fileRows,
    from: piece.from,
    to: piece.to,
  }));
}

/** The pieces that are parts of files, as row ranges for the feature reader. */
function rowRangesOf(shard: FileShard): Map<string, RowRange> {
  return new Map(
    shard.pieces
      .filter((piece) => piece.from > 0 || piece.to < piece.fileRows)
      .map((piece) => [piece.file, { from: piece.from, to: piece.to }]),
  );
}

export interface ShardScorer {
  /** The worker's index in its pool, recorded in the sidecar. */
  worker: number;
  model: tfl.LayersModel;
  layout: InputLayout;
  /** The artifact's target transform, inverted so that predictions are in the label's units. */
  transform?: TargetTransform | undefined;
  fittedFeaturesJson: string;
  microBatch: number;
  /** Called when every row is scored, before the output is written. */
  onScored?: () => void;
  /** True once the shard should stop (checked between batches): it then fails, writing nothing. */
  cancelled?: () => boolean;
  /** Test hook: the thread exits after appending the first batch, leaving a torn temp file. */
  crashMidShard?: () => void;
}

/** Streams the shard's rows through the fitted features, scores them and writes its Parquet file. */
export async function scoreFileShard(job: FileShardJob, scorer: ShardScorer): Promise<FileShardResult> {
  const started = performance.now();
  const fitted = parseFittedFeatures(scorer.fittedFeaturesJson, 'features.json');
  const partitions = await shardPartitions(job.shard);
  const stream = await openFeatureStream({
    partitions,
    rowRanges: rowRangesOf(job.shard),
    fitted,
    withLabels: false,
    withSlices: false,
    batchRows: 65_536,
    reuseBuffers: true,
  });
  const session = await openDuckSession();
  const table = `predictions_${randomBytes(6).toString('hex')}`;
  const files = shardFiles(job.outputDir, job.shard.name);
  // Unique per writer: two processes may score the same shard at once (a stalled holder whose
  // lease was taken over), and must never write the same temporary file.
  const unique = `${job.attempt}-${randomBytes(4).toString('hex')}`;
  const temp = path.join(job.outputDir, `.tmp-${job.shard.name}-attempt-${unique}.parquet`);
  let appender: DuckDBAppender | undefined;
  let rows = 0;
  try {
    for await (const batch of stream) {
      if (scorer.cancelled?.()) {
        throw new NightshiftError(`shard ${job.shard.name}: stopped, its scoring pool is closing`);
      }
      const scores = predictScores(
        scorer.model,
        scorer.layout,
        batch.features,
        batch.rowCount,
        scorer.microBatch,
        scorer.transform,
      );
      if (appender === undefined) {
        const idType = batch.ids instanceof BigInt64Array ? 'BIGINT' : 'VARCHAR';
        await session.connection.run(`CREATE TEMP TABLE ${table} (id ${idType}, score FLOAT)`);
        appender = await session.connection.createAppender(table);
      }
      appendPredictions(appender, batch.ids, scores, batch.rowCount);
      rows += batch.rowCount;
      if (scorer.crashMidShard) {
        appender.flushSync();
        await writeFile(temp, 'torn');
        scorer.crashMidShard();
      }
    }
    if (appender === undefined) {
      await session.connection.run(`CREATE TEMP TABLE ${table} (id BIGINT, score FLOAT)`);
    } else {
      appender.closeSync();
    }
    scorer.onScored?.();
    // Insertion order is preserved: rows come out in input order, shard by shard.
    await session.connection.run(
      `COPY (SELECT id, score, CAST(${Math.trunc(job.modelVersion)} AS INTEGER) AS model_version,
              CAST(${sqlString(job.logicalDate)} AS DATE) AS logical_date FROM ${table})
       TO ${sqlString(temp)} (FORMAT parquet)`,
    );
    await rename(temp, files.parquet);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    await session.connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    session.close();
    stream.close();
  }
  const bytes = (await stat(files.parquet)).size;
  const sha256 = await sha256File(files.parquet);
  const sidecar: ShardSidecar = {
    format: 3,
    shard: job.shard.name,
    inputs: shardInputs(job.shard),
    model: job.model,
    modelVersion: job.modelVersion,
    artifactSha256: job.artifactSha256,
    logicalDate: job.logicalDate,
    rows,
    errorRows: stream.report.errorRows,
    bytes,
    sha256,
    worker: scorer.worker,
  };
  const sidecarTemp = `${files.sidecar}.tmp-${unique}`;
  await writeFile(sidecarTemp, `${JSON.stringify(sidecar, null, 2)}\n`);
  await rename(sidecarTemp, files.sidecar);
  return {
    kind: 'fileShard',
    name: job.shard.name,
    rows,
    errorRows: sidecar.errorRows,
    bytes,
    sha256,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Ids and scores go into DuckDB a 2,048-row data chunk at a time (its vector size): measured
 * 0.30 s per million rows against 0.48 s for per-value appends. The vectors' `items` buffers are
 * not in the typings. (Filling the chunk's memory through the C API instead, as the data plane
 * reads chunks, wrote wrong rows: the tests caught it; the wrappers' `flush` also sets validity.)
 */
function appendPredictions(
  appender: DuckDBAppender,
  ids: BigInt64Array | string[],
  scores: Float32Array,
  rowCount: number,
): void {
  if (!(ids instanceof BigInt64Array)) {
    for (let i = 0; i < rowCount; i++) {
      appender.appendVarchar(ids[i] as string);
      appender.appendFloat(scores[i] as number);
      appender.endRow();
    }
    return;
  }
  for (let from = 0; from < rowCount; from += 2048) {
    const count = Math.min(2048, rowCount - from);
    const chunk = DuckDBDataChunk.create([BIGINT, FLOAT], count);
    const idVector = chunk.getColumnVector(0) as unknown as { items: BigInt64Array; flush(): void };
    const scoreVector = chunk.getColumnVector(1) as unknown as { items: Float32Array; flush(): void };
    idVector.items.set(ids.subarray(from, from + count));
    idVector.flush();
    scoreVector.items.set(scores.subarray(from, from + count));
    scoreVector.flush();
    appender.appendDataChunk(chunk);
  }
}

/**
 * The shard's input files, read again here (a worker thread or another process): each one's
 * sha256 is checked against its partition's manifest, and that sum against the plan's, so the
 * bytes scored are the ones the planner saw and the predictions' lineage records.
 */
async function shardPartitions(shard: FileShard) {
  const byDir = new Map<string, Set<string>>();
  for (const piece of shard.pieces) {
    const dir = path.dirname(piece.file);
    byDir.set(dir, (byDir.get(dir) ?? new Set()).add(piece.file));
  }
  const partitions = [];
  for (const [dir, wanted] of byDir) {
    const date = path.basename(dir).replace(/^date=/, '');
    if ((await readManifest(dir)) === undefined) {
      // Plain Parquet files (score --input file/glob): checked against the plan's sums.
      const pieces = shard.pieces.filter((piece) => wanted.has(piece.file));
      const files = pieces.map((piece) => ({ file: piece.file, sha256: piece.sha256, rows: piece.fileRows }));
      partitions.push(await plainPartitionOf(dir, pieces[0]?.date ?? date, files));
      continue;
    }
    const partition = await readPartition(path.dirname(dir), date, wanted);
    if (partition === undefined) {
      throw new DataError(`${dir}: expected a complete partition (with _manifest.json), found none`, {
        retriable: false,
      });
    }
    for (const piece of shard.pieces.filter((piece) => wanted.has(piece.file))) {
      const listed = partition.manifest.files.find((file) => path.join(dir, file.name) === piece.file);
      if (listed === undefined || listed.sha256 !== piece.sha256) {
        throw new DataError(
          `${piece.file}: shard ${shard.name} was planned on sha256 ${piece.sha256}, its manifest now ${listed === undefined ? 'does not list it' : `records ${listed.sha256}`}: the partition was rewritten since; score it again`,
        );
      }
    }
    partitions.push(partition);
  }
  return partitions;
}

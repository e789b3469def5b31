import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Partition, rowGroupsOf } from '../../data/index.ts';
import { childLogger } from '../../log.ts';
import type { BackendRequest } from '../backend.ts';
import { completedShard, type ShardIdentity, type ShardSidecar } from './parquetShard.ts';
import { type FileShard, type InputFile, planShards } from './plan.ts';
import { ScoringPool, type ScoringPoolOptions } from './pool.ts';
import { describeIncompleteOutput, type IncompleteOutput, PREDICTIONS_MANIFEST } from './predictions.ts';
import type { FileShardJob, FileShardResult } from './protocol.ts';
import { scoringWorkerEntry } from './workerEntry.ts';

export { PREDICTIONS_MANIFEST } from './predictions.ts';

const DEFAULT_SHARD_ROWS = 262_144;

export interface ScoreBatchOptions extends Omit<ScoringPoolOptions, 'artifactDir' | 'manifestSha256'> {
  model: string;
  modelVersion: number;
  artifactDir: string;
  manifestSha256?: string;
  partitions: readonly Partition[];
  outputDir: string;
  logicalDate: string;
  /**
   * About this many rows per shard (small files are grouped, big ones cut by row groups);
   * default 262,144. There are at least as many shards as workers when the input has enough
   * row groups. The plan depends on the input, this and the worker count: a rerun with the same
   * ones skips the shards already done.
   */
  shardRows?: number;
  onShard?: (done: number, total: number, rows: number) => void;
  /**
   * Called when scoring fails after the plan: the output folder then has no manifest, and this
   * says which shards were written (kept for a rerun to resume) and which are missing.
   */
  onIncomplete?: (incomplete: IncompleteOutput) => void;
  /**
   * Score on this pool (already started on the same artifact) and leave it open: a caller
   * scoring several batches pays the workers' start once. Default: a pool of its own, started
   * before the output checks and closed at the end.
   */
  pool?: ScoringPool;
  /**
   * Scores the shards still to do elsewhere instead of on a pool of this process: the DAG's
   * score task hands them to `ctx.shards`, so that workers on any machine take them (see
   * distributed.ts). Resolves once every one has written its output; each is verified after.
   */
  distribute?: (todo: readonly ShardJobSpec[]) => Promise<void>;
}

/** A shard to score, as handed to `distribute`: all a process needs to score it (JSON). */
export interface ShardJobSpec {
  shard: FileShard;
  artifactDir: string;
  manifestSha256: string | undefined;
  model: string;
  modelVersion: number;
  logicalDate: string;
  outputDir: string;
  /** Worker threads of the pool a process scores it on. */
  workers: number;
  microBatch: number | undefined;
  backend: BackendRequest | undefined;
}

export interface PredictionsManifest {
  format: 1;
  /** The worker count the shards were planned for (each shard names the worker that scored it). */
  workers: number;
  model: string;
  modelVersion: number;
  logicalDate: string;
  rowCount: number;
  errorRows: number;
  shards: ShardSidecar[];
  createdAt: string;
}

export interface ScoreBatchResult {
  manifest: PredictionsManifest;
  scoredShards: number;
  skippedShards: number;
  seconds: number;
  backend: string | undefined;
}

export function inputFilesOf(partitions: readonly Partition[]): InputFile[] {
  return partitions.flatMap((partition) =>
    partition.manifest.files.map((file) => ({
      date: partition.date,
      file: path.join(partition.dir, file.name),
      rows: file.rows,
      sha256: file.sha256,
    })),
  );
}

/** The pool job that scores one shard (here, or in whichever process a spec was handed to). */
export function fileShardJob(spec: ShardJobSpec, attempt: number): FileShardJob {
  return {
    kind: 'fileShard',
    shard: spec.shard,
    outputDir: spec.outputDir,
    model: spec.model,
    modelVersion: spec.modelVersion,
    artifactSha256: spec.manifestSha256 ?? null,
    logicalDate: spec.logicalDate,
    attempt,
  };
}

/**
 * Scores partitions into `<outputDir>/shard-NNNNN.parquet` plus `_manifest.json`, written last.
 * A rerun skips shards whose output is complete and verified; the manifest is rewritten when
 * anything changed. Rows come out in input order within each shard.
 */
export async function scoreBatch(options: ScoreBatchOptions): Promise<ScoreBatchResult> {
  const started = performance.now();
  await mkdir(options.outputDir, { recursive: true });
  // The worker bundle is checked (or built) while the footers are read for the plan.
  void scoringWorkerEntry().catch(() => undefined);
  const workers = options.pool?.size ?? options.workers ?? Math.max(1, os.availableParallelism());
  const inputs = inputFilesOf(options.partitions);
  // Workers take 0.2-0.4 s to start: with at least one non-empty input file per worker the plan
  // will have a shard for each (see planShards), so they start before the footers are read for it.
  // Otherwise the plan decides how many are worth starting.
  const startPool = (count: number) =>
    options.pool ??
    (count > 0 && !options.distribute ? ScoringPool.start({ ...options, workers: count }) : undefined);
  const early = inputs.filter((input) => input.rows > 0).length >= workers;
  let pool = early ? startPool(workers) : undefined;
  try {
    return await scoreShards(options, { started, workers, inputs }, (shards) => {
      // Started before the rerun checks (they hash every existing output): the workers' start
      // overlaps them. Sized from the shard count, not from what is left to do.
      pool ??= startPool(Math.min(workers, shards.length));
      return pool;
    });
  } finally {
    // Waited for: a process that exits while a worker still loads or runs a DuckDB call aborts.
    if (options.pool === undefined) await pool?.close();
  }
}

/** The plan, the rerun checks, the shards and the manifest; `poolFor` gives the pool once the plan is known. */
async function scoreShards(
  options: ScoreBatchOptions,
  { started, workers, inputs }: { started: number; workers: number; inputs: InputFile[] },
  poolFor: (shards: FileShard[]) => ScoringPool | undefined,
): Promise<ScoreBatchResult> {
  const log = childLogger({ component: 'score', model: options.model, date: options.logicalDate });
  const rowGroups = await rowGroupsOf(inputs.map((input) => input.file));
  const shards = planShards(
    inputs.map((input) => ({ ...input, rowGroups: rowGroups.get(input.file) })),
    { shardRows: options.shardRows ?? DEFAULT_SHARD_ROWS, workers },
  );
  const pool = poolFor(shards);
  const done = new Map<string, ShardSidecar>();
  const todo: FileShard[] = [];
  const identity: ShardIdentity = {
    model: options.model,
    modelVersion: options.modelVersion,
    artifactSha256: options.manifestSha256 ?? null,
    logicalDate: options.logicalDate,
  };
  for (const shard of shards) {
    const complete = await completedShard(options.outputDir, shard, identity);
    if (complete) done.set(shard.name, complete);
    else todo.push(shard);
  }
  // The folder says it is complete only once every shard of this plan is: a manifest left by an
  // earlier run goes before any shard is replaced.
  if (todo.length > 0) await rm(path.join(options.outputDir, PREDICTIONS_MANIFEST), { force: true });
  await removeStaleOutputs(options.outputDir, new Set(shards.map((shard) => shard.name)));
  log.info({ shards: shards.length, skipped: done.size }, 'scoring shards');
  let backend: string | undefined;
  const specs: ShardJobSpec[] = todo.map((shard) => ({
    shard,
    artifactDir: options.artifactDir,
    manifestSha256: options.manifestSha256,
    model: options.model,
    modelVersion: options.modelVersion,
    logicalDate: options.logicalDate,
    outputDir: options.outputDir,
    workers,
    microBatch: options.microBatch,
    backend: options.backend,
  }));
  const verify = async (shard: FileShard): Promise<void> => {
    const sidecar = await completedShard(options.outputDir, shard, identity);
    if (!sidecar) throw new Error(`shard ${shard.name}: its output did not verify after writing`);
    done.set(shard.name, sidecar);
  };
  try {
    backend = await runShards(options, specs, shards.length, done, pool, verify);
  } catch (error) {
    // Missing: not written and verified when the first failure stopped the run.
    const incomplete: IncompleteOutput = {
      outputDir: options.outputDir,
      planned: shards.length,
      written: shards.filter((shard) => done.has(shard.name)).map((shard) => shard.name),
      missing: shards.filter((shard) => !done.has(shard.name)).map((shard) => shard.name),
    };
    log.warn({ ...incomplete, error: String(error) }, describeIncompleteOutput(incomplete));
    options.onIncomplete?.(incomplete);
    throw error;
  }

  const ordered = shards.map((shard) => done.get(shard.name) as ShardSidecar);
  const manifest: PredictionsManifest = {
    format: 1,
    workers,
    model: options.model,
    modelVersion: options.modelVersion,
    logicalDate: options.logicalDate,
    rowCount: ordered.reduce((sum, shard) => sum + shard.rows, 0),
    errorRows: ordered.reduce((sum, shard) => sum + shard.errorRows, 0),
    shards: ordered,
    createdAt: new Date().toISOString(),
  };
  const manifestFile = path.join(options.outputDir, PREDICTIONS_MANIFEST);
  await writeFile(`${manifestFile}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${manifestFile}.tmp`, manifestFile);
  return {
    manifest,
    scoredShards: todo.length,
    skippedShards: shards.length - todo.length,
    seconds: (performance.now() - started) / 1000,
    backend,
  };
}

/** Scores the shards to do, here on `pool` or elsewhere through `distribute`; the pool's backend. */
async function runShards(
  options: ScoreBatchOptions,
  specs: readonly ShardJobSpec[],
  planned: number,
  done: Map<string, ShardSidecar>,
  pool: ScoringPool | undefined,
  verify: (shard: FileShard) => Promise<void>,
): Promise<string | undefined> {
  if (specs.length > 0 && options.distribute) {
    await options.distribute(specs);
    for (const spec of specs) await verify(spec.shard);
    return undefined;
  }
  if (specs.length === 0 || !pool) return undefined;
  let finished = done.size;
  let rowsDone = 0;
  await Promise.all(
    specs.map(async (spec) => {
      const result = (await pool.submit({
        shard: spec.shard.name,
        job: (attempt) => fileShardJob(spec, attempt),
      })) as FileShardResult;
      finished++;
      rowsDone += result.rows;
      options.onShard?.(finished, planned, rowsDone);
      await verify(spec.shard);
    }),
  );
  return pool.backend;
}

/** Torn temporaries from killed workers, and shards of an older plan that this one does not have. */
async function removeStaleOutputs(outputDir: string, current: Set<string>): Promise<void> {
  for (const entry of await readdir(outputDir)) {
    const shard = /^(shard-\d+)\.(parquet|json)$/.exec(entry)?.[1];
    if (entry.startsWith('.tmp-') || (shard !== undefined && !current.has(shard))) {
      await rm(path.join(outputDir, entry), { force: true });
    }
  }
}

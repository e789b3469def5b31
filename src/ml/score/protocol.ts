import type { BackendName, BackendRequest } from '../backend.ts';
import type { FileShard } from './plan.ts';

/** Messages between the scoring pool and its worker threads (structured-clone safe). */

export interface WorkerInit {
  /** The worker's index in its pool (stable across replacements): recorded with each shard. */
  index: number;
  /** DuckDB threads of this worker: the cores shared among the pool's workers. */
  duckdbThreads: number;
  artifactDir: string;
  /** The registered sum of manifest.json: a worker refuses an artifact changed since. */
  manifestSha256: string | undefined;
  backend: BackendRequest;
  microBatch: number;
}

export interface RowsJob {
  kind: 'rows';
  features: Float32Array;
  rows: number;
}

export interface FileShardJob {
  kind: 'fileShard';
  shard: FileShard;
  outputDir: string;
  model: string;
  modelVersion: number;
  artifactSha256: string | null;
  logicalDate: string;
  /** Attempt number, 1-based: names the temporary output so a retry never reuses a torn file. */
  attempt: number;
}

export type ScoringJob = RowsJob | FileShardJob;

export interface FileShardResult {
  kind: 'fileShard';
  name: string;
  rows: number;
  errorRows: number;
  bytes: number;
  sha256: string;
  seconds: number;
}

export interface RowsResult {
  kind: 'rows';
  scores: Float32Array;
  seconds: number;
}

export type ScoringResult = RowsResult | FileShardResult;

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'job'; id: number; job: ScoringJob; crashMidJob?: boolean }
  /** Stop shards between batches, let DuckDB's calls in flight finish, then exit. */
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; backend: BackendName }
  /**
   * The job's rows are scored and its output is being written (by DuckDB, off the worker's
   * thread): the worker can start its next job meanwhile.
   */
  | { type: 'writing'; id: number }
  | { type: 'done'; id: number; result: ScoringResult }
  | { type: 'failed'; id: number; message: string; retriable: boolean };

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { NightshiftError } from '../../errors.ts';
import {
  childLogger,
  currentLogBindings,
  type LogBindings,
  type Logger,
  withLogBindings,
} from '../../log.ts';
import type { BackendName, BackendRequest } from '../backend.ts';
import { parseBackendRequest } from '../backend.ts';
import { DEFAULT_MICRO_BATCH } from '../predict.ts';
import type { FromWorker, ScoringJob, ScoringResult, ToWorker, WorkerInit } from './protocol.ts';
import { scoringWorkerEntry } from './workerEntry.ts';

/**
 * A shard failed on every attempt; `shard` names it. Retriable as a task (a new run may pass)
 * unless its cause was not: a checksum mismatch or bad input fails the same way every time.
 */
export class ShardFailedError extends NightshiftError {
  readonly shard: string;
  constructor(shard: string, attempts: number, cause: string, retriable = true) {
    super(`shard ${shard} failed after ${attempts} attempt(s): ${cause}`, { retriable });
    this.shard = shard;
  }
}

export interface ScoringPoolOptions {
  artifactDir: string;
  manifestSha256?: string;
  /** Default: one per core. */
  workers?: number;
  microBatch?: number;
  backend?: BackendRequest;
  /** Attempts per shard before the task fails; default 3. */
  maxAttempts?: number;
  /** Test hook: make the worker running this shard attempt exit abruptly mid-shard. */
  crashMidShard?: (shard: string, attempt: number) => boolean;
  logger?: Logger;
}

export interface PoolJob {
  /** The shard's name, used in logs, retries and errors. */
  shard: string;
  /** Built per attempt, so a file job can name its temporary output by attempt. */
  job: (attempt: number) => ScoringJob;
}

interface Slot {
  index: number;
  /** Absent until the worker bundle is ready. */
  worker: Worker | undefined;
  ready: Promise<BackendName>;
  /** Jobs sent and not answered yet, by id: the one it is scoring, and one writing its output. */
  jobs: Map<number, PendingJob>;
  /** The job whose rows it is scoring; none: it may take another job. */
  scoring: number | undefined;
  /** Model loaded: only then may it take a job (a replacement is still loading). */
  loaded: boolean;
  /** Exited, or failed to load the model: it takes no job and is waited for by none. */
  exited: boolean;
  /** The thread has ended (its 'exit' event): nothing is left to stop. */
  ended: boolean;
  /** Jobs it has started. */
  taken: number;
}

interface PendingJob {
  item: PoolJob;
  attempt: number;
  /** The ids of the task or shard that submitted it: a worker's events about it log them. */
  logBindings: LogBindings;
  resolve: (result: ScoringResult) => void;
  reject: (error: Error) => void;
}

/**
 * Jobs a worker holds at once: one it is scoring, and one whose output DuckDB is writing. With
 * one, the worker's thread idled through every shard's Parquet write, hash and the next shard's
 * footers: 0.45 s of 6.2 for 2.5M flights on one worker.
 */
const JOBS_PER_WORKER = 2;

/** How long a closing worker may take to finish its DuckDB calls before it is terminated. */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * A pool of scoring worker threads, each holding one copy of the model. Jobs (shards) go to the
 * next worker that is not scoring one (it may still be writing the previous one's output); a
 * worker that dies is replaced and its shards retried, up to `maxAttempts`, after which the
 * whole run fails naming the shard.
 */
export class ScoringPool {
  readonly size: number;
  backend: BackendName | undefined;
  private readonly slots: Slot[] = [];
  private readonly queue: PendingJob[] = [];
  private readonly init: Omit<WorkerInit, 'index'>;
  private readonly entry: Promise<string>;
  private nextId = 1;
  private closed = false;
  private readonly log: Logger;

  private constructor(private readonly options: ScoringPoolOptions) {
    this.size = options.workers ?? Math.max(1, os.availableParallelism());
    this.log = options.logger ?? childLogger({ component: 'score-pool' });
    this.entry = scoringWorkerEntry();
    this.init = {
      duckdbThreads: Math.max(1, Math.floor(os.availableParallelism() / this.size)),
      artifactDir: options.artifactDir,
      manifestSha256: options.manifestSha256,
      backend: options.backend ?? parseBackendRequest(process.env.NIGHTSHIFT_BACKEND),
      microBatch: options.microBatch ?? DEFAULT_MICRO_BATCH,
    };
  }

  /** Starts the workers and waits until each has loaded the model. */
  static async open(options: ScoringPoolOptions): Promise<ScoringPool> {
    const pool = ScoringPool.start(options);
    try {
      await pool.started;
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * Starts the workers without waiting: jobs may be submitted at once, and each worker takes
   * one as soon as its model is loaded (a worker thread takes 0.2-0.4 s to load TF.js, DuckDB
   * and the artifact, so the caller overlaps that with its own preparation). `started` settles when
   * every worker is up; if one cannot load the model, queued and later jobs are refused with
   * that error rather than waiting forever.
   */
  static start(options: ScoringPoolOptions): ScoringPool {
    const pool = new ScoringPool(options);
    for (let index = 0; index < pool.size; index++) pool.slots.push(pool.spawn(index));
    pool.started = Promise.all(pool.slots.map((slot) => slot.ready)).then(
      (backends) => {
        pool.backend = backends[0];
      },
      (error: unknown) => {
        pool.startError = error instanceof Error ? error : new NightshiftError(String(error));
        for (const pending of pool.queue.splice(0)) pending.reject(pool.startError);
        throw pool.startError;
      },
    );
    // Reported through `started` (open awaits it) or through the jobs it refuses.
    pool.started.catch(() => undefined);
    return pool;
  }

  /** Worker threads still running (loading, scoring, idle or stopping). */
  get threads(): number {
    return this.slots.filter((slot) => slot.worker !== undefined && !slot.ended).length;
  }

  /** Settles when every worker has loaded the model (see `start`). */
  started: Promise<void> = Promise.resolve();
  private startError: Error | undefined;

  /** Runs every job; resolves with results in job order, or rejects on the first shard that fails for good. */
  run(items: readonly PoolJob[]): Promise<ScoringResult[]> {
    return Promise.all(items.map((item) => this.submit(item)));
  }

  submit(item: PoolJob): Promise<ScoringResult> {
    if (this.closed) return Promise.reject(new NightshiftError('the scoring pool is closed'));
    if (this.startError) return Promise.reject(this.startError);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, attempt: 1, logBindings: currentLogBindings(), resolve, reject });
      this.dispatch();
    });
  }

  /** Refuses queued and unanswered jobs, then stops every worker thread (see `stop`). */
  async close(): Promise<void> {
    this.closed = true;
    const closed = () => new NightshiftError('the scoring pool was closed');
    for (const pending of this.queue.splice(0)) pending.reject(closed());
    await Promise.all(
      this.slots.map((slot) => {
        for (const pending of slot.jobs.values()) pending.reject(closed());
        slot.jobs.clear();
        slot.scoring = undefined;
        return this.stop(slot);
      }),
    );
  }

  private spawn(index: number): Slot {
    const slot: Slot = {
      index,
      worker: undefined,
      loaded: false,
      exited: false,
      ended: false,
      taken: 0,
      jobs: new Map(),
      scoring: undefined,
      ready: Promise.resolve('cpu'),
    };
    slot.ready = this.entry.then(
      (file) =>
        new Promise<BackendName>((resolve, reject) => {
          if (this.closed) {
            reject(new NightshiftError('the scoring pool was closed'));
            return;
          }
          // Plain JavaScript: none of the parent's loader flags (tsx's --import) are needed.
          const worker = new Worker(file, { execArgv: [] });
          slot.worker = worker;
          worker.on('message', (message: FromWorker) => {
            if (message.type === 'ready') {
              slot.loaded = true;
              resolve(message.backend);
            } else if (message.type === 'failed' && message.id === -1) {
              reject(
                new NightshiftError(`scoring worker ${index} could not load the model: ${message.message}`),
              );
            } else this.onResult(slot, message);
          });
          worker.on('error', (error) => {
            reject(error);
            this.onWorkerDeath(slot, `worker error: ${error.message}`);
          });
          worker.on('exit', (code) => {
            slot.ended = true;
            reject(new NightshiftError(`scoring worker ${index} exited with code ${code} while starting`));
            this.onWorkerDeath(slot, `worker exited with code ${code}`);
          });
          worker.postMessage({ type: 'init', init: { ...this.init, index } } satisfies ToWorker);
        }),
    );
    // A start failure is reported through open() or the jobs it refuses; the slot is then out
    // of the reckoning, so no job waits for it.
    slot.ready.then(
      () => this.dispatch(),
      () => {
        slot.exited = true;
        // A worker that failed to load still runs: it is asked to stop (it exits at once).
        void this.stop(slot);
        this.dispatch();
      },
    );
    return slot;
  }

  /**
   * Asks a worker thread to stop: it ends its shards at the next batch and exits once DuckDB's
   * calls in flight have finished (terminating it under one aborts the process). A thread that
   * has not exited after `CLOSE_TIMEOUT_MS` is terminated.
   */
  private async stop(slot: Slot): Promise<void> {
    const worker = slot.worker;
    if (worker === undefined || slot.ended) return;
    const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await ended;
    clearTimeout(timer);
  }

  /**
   * Gives queued jobs to idle workers. While some workers are still loading, a worker that has
   * already scored a shard leaves the last jobs (as many as there are loading workers) to them:
   * otherwise the first worker up could take every shard of a small task (two shards of one
   * day) before the second has loaded, and the task would not use the workers it asked for.
   */
  private dispatch(): void {
    const loading = this.slots.filter((slot) => !slot.loaded && !slot.exited).length;
    // Idle workers that have taken fewer jobs first: a worker that just loaded gets the job.
    const idle = this.slots
      .filter(
        (slot) =>
          slot.scoring === undefined && slot.jobs.size < JOBS_PER_WORKER && !slot.exited && slot.loaded,
      )
      .sort((a, b) => a.jobs.size - b.jobs.size || a.taken - b.taken);
    for (const slot of idle) {
      const worker = slot.worker;
      if (this.queue.length === 0) return;
      if (worker === undefined || (slot.taken > 0 && this.queue.length <= loading)) continue;
      const pending = this.queue.shift() as PendingJob;
      const id = this.nextId++;
      slot.jobs.set(id, pending);
      slot.scoring = id;
      slot.taken++;
      const job = pending.item.job(pending.attempt);
      const crashMidJob = this.options.crashMidShard?.(pending.item.shard, pending.attempt) ?? false;
      withLogBindings(pending.logBindings, () =>
        this.log.debug(
          { worker: slot.index, shard: pending.item.shard, attempt: pending.attempt, held: slot.jobs.size },
          'shard sent to worker',
        ),
      );
      const transfer = job.kind === 'rows' ? [job.features.buffer as ArrayBuffer] : [];
      worker.postMessage({ type: 'job', id, job, crashMidJob } satisfies ToWorker, transfer);
    }
  }

  private onResult(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') return;
    const pending = slot.jobs.get(message.id);
    if (pending === undefined) return;
    if (slot.scoring === message.id) slot.scoring = undefined;
    if (message.type !== 'writing') {
      slot.jobs.delete(message.id);
      if (message.type === 'done') pending.resolve(message.result);
      else this.retryOrFail(pending, message.message, message.retriable);
    }
    this.dispatch();
  }

  private onWorkerDeath(slot: Slot, reason: string): void {
    if (slot.exited) return;
    slot.exited = true;
    const pendings = [...slot.jobs.values()];
    slot.jobs.clear();
    slot.scoring = undefined;
    if (this.closed) return;
    withLogBindings(pendings[0]?.logBindings ?? {}, () =>
      this.log.warn(
        { worker: slot.index, shards: pendings.map((pending) => pending.item.shard), reason },
        'scoring worker died; replacing it',
      ),
    );
    const position = this.slots.indexOf(slot);
    if (position >= 0) this.slots[position] = this.spawn(slot.index);
    // Each retry goes to the front of the queue: the newest first, so they keep their order.
    for (const pending of pendings.reverse()) this.retryOrFail(pending, reason, true);
  }

  private retryOrFail(pending: PendingJob, reason: string, retriable: boolean): void {
    const maxAttempts = this.options.maxAttempts ?? 3;
    if (retriable && pending.attempt < maxAttempts) {
      withLogBindings(pending.logBindings, () =>
        this.log.warn({ shard: pending.item.shard, attempt: pending.attempt, reason }, 'retrying shard'),
      );
      // Rebuilt from the PoolJob: a transferred buffer from the failed attempt is gone.
      this.queue.unshift({ ...pending, attempt: pending.attempt + 1 });
      this.dispatch();
      return;
    }
    pending.reject(new ShardFailedError(pending.item.shard, pending.attempt, reason, retriable));
  }
}

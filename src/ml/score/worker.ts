import { parentPort } from 'node:worker_threads';
import type * as tfl from '@tensorflow/tfjs-layers';
import { setDuckThreads } from '../../data/duckdb.ts';
import { errorMessage, NightshiftError } from '../../errors.ts';
import { loadModelArtifact } from '../artifacts.ts';
import { initBackend } from '../backend.ts';
import type { InputLayout } from '../inputs.ts';
import { predictScores } from '../predict.ts';
import type { TargetTransform } from '../target.ts';
import { FEATURES_FILE, inputLayoutOf, targetTransformOf } from './artifactLayout.ts';
import { scoreFileShard } from './parquetShard.ts';
import type { FromWorker, ScoringResult, ToWorker, WorkerInit } from './protocol.ts';

/**
 * A scoring worker thread: loads the model once (verifying the artifact), then scores the jobs
 * the pool sends. A file shard says when its rows are scored: the pool may then send the next
 * one, which this thread starts while DuckDB writes the previous one's Parquet file.
 */
interface LoadedScorer {
  init: WorkerInit;
  model: tfl.LayersModel;
  layout: InputLayout;
  transform: TargetTransform | undefined;
  fittedFeaturesJson: string | undefined;
}

const port = parentPort;
if (port === null) throw new Error('the scoring worker must run in a worker thread');
let scorer: LoadedScorer | undefined;
let closing = false;
/** The load and the jobs under way: a close waits for them (see `closeWhenSettled`). */
const underWay = new Set<Promise<unknown>>();

function track<T>(work: Promise<T>): Promise<T> {
  underWay.add(work);
  const forget = () => underWay.delete(work);
  work.then(forget, forget);
  return work;
}

/**
 * Exits once nothing is under way: shards stop at their next batch, and DuckDB's calls in
 * flight finish first. Terminating the thread under such a call aborts the whole process (the
 * binding's completion callback throws in a dying thread), which is why the pool asks instead.
 */
async function closeWhenSettled(): Promise<void> {
  closing = true;
  while (underWay.size > 0) await Promise.allSettled([...underWay]);
  process.exit(0);
}

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

async function load(init: WorkerInit): Promise<void> {
  // Each worker thread has a DuckDB engine of its own: without a limit, N workers would each
  // start one thread per core. The engine starts on a thread of its own (20-40 ms) while this
  // one loads the backend and the model.
  const duck = setDuckThreads(init.duckdbThreads);
  // Awaited below; a failure meanwhile must not count as unhandled (it would end the thread).
  duck.catch(() => undefined);
  try {
    const backend = await initBackend(init.backend);
    const artifact = await loadModelArtifact(init.artifactDir, init.manifestSha256);
    const layout = inputLayoutOf(artifact.manifest);
    // One micro-batch of zeros before saying ready: the backend's first call at full size (its
    // memory growth, kernel set-up: 40-55 ms) would otherwise be paid inside the first shard.
    const zeros = new Float32Array(init.microBatch * layout.featureCount);
    predictScores(artifact.model, layout, zeros, init.microBatch, init.microBatch);
    await duck;
    scorer = {
      init,
      model: artifact.model,
      layout,
      transform: targetTransformOf(artifact.manifest),
      fittedFeaturesJson: artifact.extras[FEATURES_FILE],
    };
    send({ type: 'ready', backend: backend.name });
  } finally {
    // Even on failure, not before DuckDB has finished starting: the pool then stops this worker,
    // and a thread ended while DuckDB's start is in flight aborts the whole process (an
    // exception thrown from the binding's completion callback).
    await duck.catch(() => undefined);
  }
}

async function run(message: Extract<ToWorker, { type: 'job' }>): Promise<ScoringResult> {
  if (scorer === undefined) throw new Error('job before init');
  const { job } = message;
  // A real abrupt exit of this thread: the pool sees 'exit', as with a crash or an OOM kill.
  const crash = message.crashMidJob ? () => process.exit(70) : undefined;
  if (job.kind === 'rows') {
    const started = performance.now();
    if (crash) crash();
    const scores = predictScores(
      scorer.model,
      scorer.layout,
      job.features,
      job.rows,
      scorer.init.microBatch,
      scorer.transform,
    );
    return { kind: 'rows', scores, seconds: (performance.now() - started) / 1000 };
  }
  if (scorer.fittedFeaturesJson === undefined) {
    throw new NightshiftError(
      `${scorer.init.artifactDir}: expected ${FEATURES_FILE} in the artifact, found none`,
    );
  }
  return scoreFileShard(job, {
    worker: scorer.init.index,
    model: scorer.model,
    layout: scorer.layout,
    transform: scorer.transform,
    fittedFeaturesJson: scorer.fittedFeaturesJson,
    microBatch: scorer.init.microBatch,
    onScored: () => send({ type: 'writing', id: message.id }),
    cancelled: () => closing,
    crashMidShard: crash,
  });
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'close') {
    void closeWhenSettled();
    return;
  }
  if (message.type === 'init') {
    track(load(message.init)).catch((error: unknown) => {
      send({ type: 'failed', id: -1, message: errorMessage(error), retriable: false });
    });
    return;
  }
  track(run(message)).then(
    (result) =>
      send(
        { type: 'done', id: message.id, result },
        result.kind === 'rows' ? [result.scores.buffer as ArrayBuffer] : [],
      ),
    (error: unknown) =>
      send({
        type: 'failed',
        id: message.id,
        message: errorMessage(error),
        retriable: error instanceof NightshiftError ? error.retriable : true,
      }),
  );
});

/**
 * ML engine figures, all from one run on the same rows: model-only scoring rows/s (features
 * already in memory) and end-to-end Parquet -> features -> scores -> Parquet rows/s, with 1 and
 * 2 workers, their ratio, worker start time, training samples/s and peak RSS. Prints figures;
 * never asserts on time. The machine is shared: compare figures of one run, not across runs.
 *
 *   npx tsx bench/ml-inference.ts [--from 2001-01-04] [--to 2001-01-31] \
 *     [--score-from 2001-01-01] [--score-to 2001-05-31] [--runs 3] [--epochs 2]
 *
 * What each column times, for N workers:
 * - `start s`: ScoringPool.open, N workers loading TF.js, DuckDB and the model (the worker bundle
 *   is already in its on-disk cache: the first pool of the run built it if stale).
 * - `model-only`: the features already in this thread's memory, one slice per worker sent to a
 *   started pool, scores back: no Parquet on either side, no worker start.
 * - `end-to-end, warm`: scoreBatch on that started pool (a pool serves all the shards of a task,
 *   and may serve several tasks): footers, shard plan, each worker reading its row groups,
 *   computing features, scoring and writing its Parquet shard and sidecar, then the manifest.
 * - `end-to-end, cold`: scoreBatch as one task runs it, starting its own N workers inside the
 *   timing (overlapped with the plan and the rerun checks) and closing them.
 * The ratios divide by the model-only rate of the same N. The partitions scored are prepared
 * first if missing (deterministic, so a rerun reuses them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listPartitions, prepareFlights, readFeatures } from '../src/data/index.ts';
import { clearVerifiedFiles, verifiedBytesHashed } from '../src/data/verifiedFiles.ts';
import { initBackend } from '../src/ml/backend.ts';
import { loadPipeline } from '../src/ml/pipeline.ts';
import { ScoringPool, scoreBatch, scoreRowsSharded } from '../src/ml/score/index.ts';
import { saveCandidateArtifact, trainPipeline } from '../src/ml/trainPipeline.ts';

const { values } = parseArgs({
  options: {
    from: { type: 'string', default: '2001-01-04' },
    to: { type: 'string', default: '2001-01-31' },
    'score-from': { type: 'string', default: '2001-01-01' },
    'score-to': { type: 'string', default: '2001-05-31' },
    runs: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '2' },
  },
});
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
// Worker threads live in this process: its RSS counts their heaps and wasm memories too.
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);

const backend = await initBackend();
const pipeline = await loadPipeline('flights-delay');
const dataset = path.resolve('data', pipeline.model.dataset);
await prepareFlights({
  dataDir: path.dirname(dataset),
  from: [values.from, values['score-from']].sort()[0],
  to: [values.to, values['score-to']].sort()[1],
});
// Listing verifies every file's sha256; the verified-files cache is emptied first (preparing
// the data verified them), so each listing costs what it costs a fresh `train` or `score`
// process. The workers verify their shards' files again, inside the end-to-end timings.
const listed = (started: number, hashed: number, days: number) =>
  console.log(
    `listing ${days} days: ${(performance.now() - started).toFixed(0)} ms, ` +
      `${((verifiedBytesHashed() - hashed) / 1e6).toFixed(1)} MB hashed to verify them`,
  );
clearVerifiedFiles();
let listStarted = performance.now();
let hashedBefore = verifiedBytesHashed();
const window = await listPartitions(dataset, { from: values.from, to: values.to });
listed(listStarted, hashedBefore, window.length);
const home = await mkdtemp(path.join(tmpdir(), 'nightshift-bench-'));
const trainStarted = performance.now();
// Scoring speed depends on the architecture, not on how long it trained.
const candidate = await trainPipeline({
  pipeline,
  partitions: window,
  backend,
  overrides: { epochs: Number(values.epochs) },
});
console.log(
  `training: ${fmt(candidate.training.trainRows)} rows x ${candidate.training.curves.length} epochs, ` +
    `${fmt(candidate.training.samplesPerSecond)} samples/s (${backend.name}), ${((performance.now() - trainStarted) / 1000).toFixed(1)} s with reading`,
);
const artifact = await saveCandidateArtifact(home, candidate, 'flights-delay', 1);

clearVerifiedFiles();
listStarted = performance.now();
hashedBefore = verifiedBytesHashed();
const scoring = await listPartitions(dataset, { from: values['score-from'], to: values['score-to'] });
listed(listStarted, hashedBefore, scoring.length);
const scoringRows = scoring.reduce((sum, p) => sum + p.manifest.rowCount, 0);
// Model-only reads the very rows end-to-end scores, into memory first.
const { batch } = await readFeatures({ partitions: scoring, fitted: candidate.fitted, withLabels: false });
const k = candidate.layout.featureCount;
console.log(
  `scoring ${fmt(scoringRows)} rows (${scoring.length} days ${values['score-from']}..${values['score-to']}), ${runs} runs each, medians:`,
);

interface Row {
  workers: number;
  start: number;
  modelOnly: number;
  warm: number;
  cold: number;
}
const table: Row[] = [];
let outputs = 0;
let shardCounts = new Set<number>();
const endToEnd = async (workers: number, pool?: ScoringPool) => {
  const outputDir = path.join(home, `predictions-${outputs++}`);
  const started = performance.now();
  const result = await scoreBatch({
    model: 'flights-delay',
    modelVersion: 1,
    artifactDir: artifact.dir,
    manifestSha256: artifact.manifestSha256,
    partitions: scoring,
    outputDir,
    logicalDate: values['score-to'] as string,
    workers,
    ...(pool ? { pool } : {}),
  });
  const rate = result.manifest.rowCount / ((performance.now() - started) / 1000);
  shardCounts.add(result.manifest.shards.length);
  await rm(outputDir, { recursive: true, force: true });
  return rate;
};
const shardsOf: Record<number, string> = {};
for (const workers of [1, 2]) {
  const start: number[] = [];
  const modelOnly: number[] = [];
  const warm: number[] = [];
  const cold: number[] = [];
  shardCounts = new Set();
  for (let run = 0; run < runs; run++) {
    const opened = performance.now();
    const pool = await ScoringPool.open({
      artifactDir: artifact.dir,
      manifestSha256: artifact.manifestSha256,
      workers,
    });
    start.push((performance.now() - opened) / 1000);
    try {
      const started = performance.now();
      await scoreRowsSharded(pool, batch.features, batch.rowCount, k);
      modelOnly.push(batch.rowCount / ((performance.now() - started) / 1000));
      warm.push(await endToEnd(workers, pool));
    } finally {
      await pool.close();
    }
    cold.push(await endToEnd(workers));
  }
  shardsOf[workers] = [...shardCounts].join('/');
  table.push({
    workers,
    start: median(start),
    modelOnly: median(modelOnly),
    warm: median(warm),
    cold: median(cold),
  });
}
clearInterval(sampler);

const pct = (x: number, of: number) => `${((x / of) * 100).toFixed(0)}%`;
console.log('| workers | start s | model-only rows/s | end-to-end warm | ratio | end-to-end cold | ratio |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of table) {
  console.log(
    `| ${row.workers} | ${row.start.toFixed(1)} | ${fmt(row.modelOnly)} | ${fmt(row.warm)} | ${pct(row.warm, row.modelOnly)} | ${fmt(row.cold)} | ${pct(row.cold, row.modelOnly)} |`,
  );
}
const [one, two] = table;
if (one && two) {
  console.log(
    `2 workers / 1: model-only ${(two.modelOnly / one.modelOnly).toFixed(2)}x, end-to-end warm ${(two.warm / one.warm).toFixed(2)}x, cold ${(two.cold / one.cold).toFixed(2)}x`,
  );
}
console.log(
  `shards per task: ${Object.entries(shardsOf)
    .map(([workers, count]) => `${count} with ${workers} worker(s)`)
    .join(
      ', ',
    )}; load average ${os.loadavg()[0]?.toFixed(1)} at the end (${os.availableParallelism()} cores)`,
);
console.log(`peak RSS (the process: main thread and workers): ${fmt(peakRss / 1024 / 1024)} MB`);
await rm(home, { recursive: true, force: true });

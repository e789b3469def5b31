/**
 * ML engine figures: model-only scoring rows/s with 1 and 2 workers (median of 3 runs),
 * end-to-end Parquet -> scores -> Parquet rows/s on the flights partitions, training samples/s,
 * peak RSS. Prints figures; never asserts on time.
 *
 *   npx tsx bench/ml-inference.ts [--rows 2000000] [--from 2001-01-04] [--to 2001-01-31] [--score-to 2001-02-28]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listPartitions } from '../src/data/index.ts';
import { initBackend } from '../src/ml/backend.ts';
import { loadPipeline } from '../src/ml/pipeline.ts';
import { seededRandom } from '../src/ml/random.ts';
import { ScoringPool, scoreBatch, scoreRowsSharded } from '../src/ml/score/index.ts';
import { saveCandidateArtifact, trainPipeline } from '../src/ml/trainPipeline.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    from: { type: 'string', default: '2001-01-04' },
    to: { type: 'string', default: '2001-01-31' },
    'score-to': { type: 'string', default: '2001-02-28' },
  },
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);

const backend = await initBackend();
const pipeline = await loadPipeline('flights-delay');
const dataset = path.resolve('data', pipeline.model.dataset);
const window = await listPartitions(dataset, { from: values.from, to: values.to });
const home = await mkdtemp(path.join(tmpdir(), 'nightshift-bench-'));
const trainStarted = performance.now();
const candidate = await trainPipeline({ pipeline, partitions: window, backend, overrides: { epochs: 2 } });
console.log(
  `training: ${fmt(candidate.training.trainRows)} rows x ${candidate.training.curves.length} epochs, ` +
    `${fmt(candidate.training.samplesPerSecond)} samples/s (${backend.name}), ${((performance.now() - trainStarted) / 1000).toFixed(1)} s with reading`,
);
const artifact = await saveCandidateArtifact(home, candidate, 'flights-delay', 1);

// Model-only: real feature rows repeated to --rows, scored from memory.
const rows = Number(values.rows);
const k = candidate.layout.featureCount;
const { features: sample, rowCount: sampleRows } = await (async () => {
  const { readFeatures } = await import('../src/data/index.ts');
  const { batch } = await readFeatures({
    partitions: window.slice(-3),
    fitted: candidate.fitted,
    withLabels: false,
  });
  return { features: batch.features, rowCount: batch.rowCount };
})();
const features = new Float32Array(rows * k);
const random = seededRandom(1);
for (let r = 0; r < rows; r++) {
  const source = Math.floor(random() * sampleRows);
  features.set(sample.subarray(source * k, (source + 1) * k), r * k);
}
const modelOnly: Record<number, number> = {};
for (const workers of [1, 2]) {
  const pool = await ScoringPool.open({ artifactDir: artifact.dir, workers });
  const rates: number[] = [];
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    await scoreRowsSharded(pool, features, rows, k);
    rates.push(rows / ((performance.now() - started) / 1000));
  }
  await pool.close();
  modelOnly[workers] = median(rates);
  console.log(
    `model-only, ${workers} worker(s): ${fmt(median(rates))} rows/s (median of 3 on ${fmt(rows)} rows)`,
  );
}

// End-to-end: partitions -> features -> scores -> one Parquet per shard.
const scoring = await listPartitions(dataset, { from: values.to, to: values['score-to'] });
const scoringRows = scoring.reduce((sum, p) => sum + p.manifest.rowCount, 0);
for (const workers of [1, 2]) {
  const out = path.join(home, `predictions-${workers}`);
  const started = performance.now();
  await scoreBatch({
    model: 'flights-delay',
    modelVersion: 1,
    artifactDir: artifact.dir,
    manifestSha256: artifact.manifestSha256,
    partitions: scoring,
    outputDir: out,
    logicalDate: values['score-to'] as string,
    workers,
  });
  const seconds = (performance.now() - started) / 1000;
  const rate = scoringRows / seconds;
  console.log(
    `end-to-end Parquet -> Parquet, ${workers} worker(s): ${fmt(rate)} rows/s (${fmt(scoringRows)} rows, ${seconds.toFixed(2)} s incl. worker start), ` +
      `${((rate / (modelOnly[workers] ?? rate)) * 100).toFixed(0)}% of the model-only rate`,
  );
}
clearInterval(sampler);
console.log(`peak RSS (main thread's process, workers included): ${fmt(peakRss / 1024 / 1024)} MB`);
await rm(home, { recursive: true, force: true });

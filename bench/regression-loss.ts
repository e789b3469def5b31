/**
 * How the weather-temperature pipeline's regression loss was chosen: the pipeline trained with
 * each loss on the same nights, measured on the same 28-day holdouts, next to the climatology
 * baseline. Prints figures; never asserts. Run: npx tsx bench/regression-loss.ts
 * (BENCH_NIGHTS: comma-separated nights, default six across 2014; BENCH_LOSSES: default
 * mse,huber,mae). Imports vega-datasets' weather.csv into a temporary data folder first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addDays, importDataset } from '../src/data/index.ts';
import { readPartition } from '../src/data/partitions.ts';
import { readWindow } from '../src/data/window.ts';
import { initBackend } from '../src/ml/backend.ts';
import { holdoutEndingOn } from '../src/ml/holdout.ts';
import { loadPipeline } from '../src/ml/pipeline.ts';
import type { RegressionLoss } from '../src/ml/target.ts';
import { trainPipeline } from '../src/ml/trainPipeline.ts';

const NIGHTS = (
  process.env.BENCH_NIGHTS ?? '2014-02-01,2014-04-01,2014-06-01,2014-08-01,2014-10-01,2014-12-01'
).split(',');
const LOSSES = (process.env.BENCH_LOSSES ?? 'mse,huber,mae').split(',') as RegressionLoss[];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-loss-bench-'));
const source = path.resolve('node_modules/vega-datasets/data/weather.csv');
await importDataset({
  dataDir,
  dataset: 'weather',
  inputs: [source],
  dateColumn: 'date',
  idColumn: 'location',
});
const pipeline = await loadPipeline('weather-temperature');
const backend = await initBackend();
const datasetDir = path.join(dataDir, pipeline.model.dataset);
const spec = pipeline.model.training.holdout ?? { days: 1 };
const windowDays = pipeline.model.training.windowDays;

const results = new Map<string, { mae: number[]; rmse: number[]; epochs: number[] }>();
const baseline = { mae: [] as number[], rmse: [] as number[] };
console.log(
  `weather-temperature: ${NIGHTS.length} nights, losses ${LOSSES.join(', ')}, holdout ${JSON.stringify(spec)}, window ${windowDays} days, backend ${backend.name}`,
);
console.log('night       loss   holdout MAE  RMSE   baseline MAE  RMSE   best epoch');
for (const night of NIGHTS) {
  const holdout = await holdoutEndingOn(
    spec,
    addDays(night, -1),
    (day) => readPartition(datasetDir, day),
    'weather',
  );
  const to = addDays((holdout[0] as { date: string }).date, -1);
  const { partitions } = await readWindow(datasetDir, addDays(to, -(windowDays - 1)), to);
  let baselineSeen = false;
  for (const loss of LOSSES) {
    // The pipeline's huberDelta belongs to huber: another loss drops it, as `train --loss` does.
    const overrides = loss === 'huber' ? { loss } : { loss, huberDelta: undefined };
    const candidate = await trainPipeline({ pipeline, partitions, backend, holdout, overrides });
    const measured = candidate.metrics.holdout;
    if (!measured) throw new Error(`night ${night}: no holdout metrics`);
    const entry = results.get(loss) ?? { mae: [], rmse: [], epochs: [] };
    entry.mae.push(measured.metrics.mae as number);
    entry.rmse.push(measured.metrics.rmse as number);
    entry.epochs.push(candidate.training.bestEpoch);
    results.set(loss, entry);
    if (!baselineSeen && measured.baseline) {
      baseline.mae.push(measured.baseline.metrics.mae as number);
      baseline.rmse.push(measured.baseline.metrics.rmse as number);
      baselineSeen = true;
    }
    console.log(
      `${night}  ${loss.padEnd(5)}  ${(measured.metrics.mae as number).toFixed(3).padStart(11)}  ${(measured.metrics.rmse as number).toFixed(3)}  ${(measured.baseline?.metrics.mae ?? Number.NaN).toFixed(3).padStart(12)}  ${(measured.baseline?.metrics.rmse ?? Number.NaN).toFixed(3)}  ${candidate.training.bestEpoch}`,
    );
    candidate.model.dispose();
  }
}
console.log('\nmedians over the nights:');
for (const [loss, entry] of results) {
  console.log(
    `  ${loss.padEnd(5)} holdout MAE ${median(entry.mae).toFixed(3)}, RMSE ${median(entry.rmse).toFixed(3)} (mean MAE ${(entry.mae.reduce((a, b) => a + b, 0) / entry.mae.length).toFixed(3)})`,
  );
}
console.log(
  `  baseline holdout MAE ${median(baseline.mae).toFixed(3)}, RMSE ${median(baseline.rmse).toFixed(3)}`,
);
fs.rmSync(dataDir, { recursive: true, force: true });

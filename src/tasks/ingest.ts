import type { JsonObject, TaskContext } from '../dag/types.ts';
import { addDays, dayRanges, FLIGHTS_DATASET, prepareFlights, readWindow } from '../data/index.ts';
import { DataError } from '../errors.ts';
import type { NightlyPlan } from './nightly.ts';

/**
 * Makes sure the days the night reads are there: day D (scored), the training window and the
 * holdout. The shipped flights dataset is prepared from its source file. Any other dataset is
 * brought in by `data import`, Kafka ingest or the user's own code (`writePartition`); the
 * default ingest checks that its partitions are complete (a folder without its manifest is
 * being written, or was left by a crash) and otherwise fails with a retriable error naming the
 * missing days, since late data may still arrive. A DAG with its own source passes `ingest`.
 */
export function ingestTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const nightly = await plan();
    const { pipeline, options, datasetDir } = nightly;
    if (options.ingest) return options.ingest(context);
    const dataset = pipeline.model.dataset;
    const from = await firstDayRead(nightly, context);
    if (dataset === FLIGHTS_DATASET) {
      const result = await prepareFlights({ dataDir: context.config.dataDir, from, to: context.ds });
      const today = result.partitions.find((partition) => partition.date === context.ds);
      return {
        dataset,
        date: context.ds,
        rows: today?.rows ?? 0,
        written: result.written,
        unchanged: result.unchanged,
      };
    }
    const dir = datasetDir(context.config);
    const { partitions: found, missing } = await readWindow(dir, from, context.ds, { allowGaps: true });
    if (missing.length > 0) {
      throw new DataError(
        `dataset '${dataset}': the night of ${context.ds} reads ${from} to ${context.ds} under ${dir}; ` +
          `missing or incomplete (no _manifest.json): ${dayRanges(missing).join(', ')}. ` +
          `Bring them in with 'nightshift data import ${dataset} ...' or Kafka ingest; retried while data may still arrive`,
        { retriable: true },
      );
    }
    const today = found.find((partition) => partition.date === context.ds);
    return {
      dataset,
      date: context.ds,
      rows: today?.manifest.rowCount ?? 0,
      days: found.length,
      from,
      to: context.ds,
    };
  };
}

/**
 * The oldest day the night reads: the start of the training window, which ends the day before
 * the holdout. A holdout of N days is known without reading; one of `minRows` is found by
 * walking back from D-1 (a missing day there fails, named and retriable, as below).
 */
async function firstDayRead(nightly: NightlyPlan, context: TaskContext): Promise<string> {
  const { holdoutSpec, windowDays } = nightly;
  if ('days' in holdoutSpec) return addDays(context.ds, -(holdoutSpec.days + windowDays));
  const holdout = await nightly.holdout(context.config, context.ds);
  return nightly.trainingWindow(holdout).from;
}

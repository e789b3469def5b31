import type { JsonObject, TaskContext } from '../dag/types.ts';
import { addDays, prepareFlights } from '../data/index.ts';
import { ConfigError } from '../errors.ts';
import type { NightlyPlan } from './nightly.ts';

/**
 * Makes day D's partition available, and the days the night reads besides it (the training
 * window and the holdout). For the flights dataset, partitions come from the source file;
 * other datasets bring their own `ingest` (a Kafka source, say). Idempotent.
 */
export function ingestTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, windowDays } = await plan();
    if (options.ingest) return options.ingest(context);
    if (pipeline.model.dataset !== 'flights') {
      throw new ConfigError(
        `pipeline ${pipeline.name}: dataset '${pipeline.model.dataset}' needs an ingest function in the DAG's nightlyTasks options`,
      );
    }
    const from = addDays(context.ds, -(windowDays + 1));
    const result = await prepareFlights({ dataDir: context.config.dataDir, from, to: context.ds });
    const today = result.partitions.find((partition) => partition.date === context.ds);
    return {
      dataset: 'flights',
      date: context.ds,
      rows: today?.rows ?? 0,
      written: result.written,
      unchanged: result.unchanged,
    };
  };
}

import type { JsonObject, TaskContext } from '../dag/types.ts';
import { addDays } from '../data/index.ts';
import { initBackend } from '../ml/backend.ts';
import { trainPipeline } from '../ml/trainPipeline.ts';
import { registerCandidate } from '../registry/registerCandidate.ts';
import type { NightlyPlan } from './nightly.ts';

/**
 * Trains a candidate on the `windowDays` days before the holdout (D-1), time-ordered and
 * seeded, and registers it as a new version with its lineage.
 */
export function trainTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, windowDays, partitions } = await plan();
    const to = addDays(context.ds, -2);
    const from = addDays(to, -(windowDays - 1));
    const window = await partitions(context.config, from, to);
    // Measured against the baseline on D-1 only: later days may exist on disk (a backfill, the
    // demo) but are the future of this night and must not colour its numbers.
    const holdoutDay = addDays(context.ds, -1);
    const holdout = await partitions(context.config, holdoutDay, holdoutDay);
    const backend = await initBackend();
    const candidate = await trainPipeline({
      pipeline,
      partitions: window,
      holdout,
      backend,
      ...(options.trainingOverrides ? { overrides: options.trainingOverrides } : {}),
      onEpoch: (record) => {
        if (context.signal.aborted) throw context.signal.reason;
        context.log.info(
          { epoch: record.epoch, loss: record.loss, validationMetric: record.validationMetric },
          'epoch done',
        );
      },
    });
    const version = await registerCandidate(context.store, candidate, {
      home: context.config.home,
      pipeline,
      backend,
    });
    candidate.model.dispose();
    return {
      model: version.model,
      version: version.version,
      from,
      to,
      rows: candidate.training.trainRows + candidate.training.validationRows,
      validationAuc: Number(version.metrics.auc ?? Number.NaN) || null,
      holdout: (version.metrics.holdout as JsonObject | undefined) ?? null,
      backend: backend.name,
    };
  };
}

import type { JsonObject, TaskContext } from '../dag/types.ts';
import { initBackend } from '../ml/backend.ts';
import { type CandidateMetrics, trainPipeline } from '../ml/trainPipeline.ts';
import { registerCandidate } from '../registry/registerCandidate.ts';
import type { NightlyPlan } from './nightly.ts';
import { finiteOrNull, toJson } from './outputs.ts';

/**
 * Trains a candidate on the `windowDays` days before the pipeline's holdout (ending on D-1),
 * time-ordered and seeded, and registers it as a new version with its lineage.
 */
export function trainTask(plan: () => Promise<NightlyPlan>) {
  return async (context: TaskContext): Promise<JsonObject> => {
    const { pipeline, options, partitions, holdout: holdoutOf, trainingWindow } = await plan();
    // Measured against the baseline on the holdout only: later days may exist on disk (a
    // backfill, the demo) but are the future of this night and must not colour its numbers.
    const holdout = await holdoutOf(context.config, context.ds);
    const { from, to } = trainingWindow(holdout);
    const window = await partitions(context.config, from, to);
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
    const metrics = candidate.metrics as CandidateMetrics & Record<string, unknown>;
    return {
      model: version.model,
      version: version.version,
      task: pipeline.model.task,
      from,
      to,
      rows: candidate.training.trainRows + candidate.training.validationRows,
      // By task (AUC and log loss, or MAE, RMSE and R²); null where undefined on the rows.
      validation: finiteOrNull(
        pipeline.model.task === 'binary'
          ? { auc: metrics.auc, logLoss: metrics.logLoss }
          : { mae: metrics.mae, rmse: metrics.rmse, r2: metrics.r2 },
      ),
      holdout: metrics.holdout === undefined ? null : (toJson(metrics.holdout) as JsonObject),
      backend: backend.name,
    };
  };
}

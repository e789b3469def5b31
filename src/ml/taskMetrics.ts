import {
  aucRoc,
  binaryMetrics,
  brierScore,
  logLoss,
  mae,
  type NumericArray,
  rmse,
  rSquared,
} from './metrics.ts';
import type { TrainingTask } from './train.ts';

/**
 * A model measured on labelled rows, by task: the values, and the metrics the rows themselves
 * cannot define with the reason (AUC on one class, R² on a constant label, anything on no rows).
 * A skipped metric has no value: no NaN reaches a registry record, a task output or a blessing.
 * The keys are those src/validation's METRICS_BY_TASK promises rules.
 */
export interface MeasuredMetrics {
  metrics: Record<string, number>;
  skipped: Record<string, string>;
}

const OVERALL: Record<TrainingTask, readonly string[]> = {
  binary: ['auc', 'accuracy', 'precision', 'recall', 'logLoss', 'brier', 'expectedCalibrationError'],
  regression: ['mae', 'rmse', 'r2'],
};
const SLICE: Record<TrainingTask, readonly string[]> = {
  binary: ['auc', 'accuracy', 'logLoss', 'brier'],
  regression: ['mae', 'rmse'],
};

/** The metric names `measureTask` records for a task, overall or per slice. */
export function taskMetricNames(task: TrainingTask, scope: 'overall' | 'slice'): readonly string[] {
  return (scope === 'overall' ? OVERALL : SLICE)[task];
}

export function measureTask(
  task: TrainingTask,
  scores: NumericArray,
  labels: NumericArray,
  scope: 'overall' | 'slice' = 'overall',
): MeasuredMetrics {
  const names = taskMetricNames(task, scope);
  if (labels.length === 0) {
    return { metrics: {}, skipped: Object.fromEntries(names.map((name) => [name, 'no rows'])) };
  }
  return task === 'binary' ? binary(scores, labels, scope) : regression(scores, labels, scope);
}

function binary(scores: NumericArray, labels: NumericArray, scope: 'overall' | 'slice'): MeasuredMetrics {
  const n = labels.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i] as number;
  const oneClass =
    positives === 0 || positives === n
      ? `one class: all ${n} rows are ${positives === 0 ? 'negative' : 'positive'}`
      : undefined;
  const skipped: Record<string, string> = {};
  let metrics: Record<string, number>;
  if (scope === 'slice') {
    metrics = { logLoss: logLoss(scores, labels), brier: brierScore(scores, labels) };
    let correct = 0;
    for (let i = 0; i < n; i++) if ((scores[i] as number) >= 0.5 === (labels[i] === 1)) correct++;
    metrics.accuracy = correct / n;
    if (oneClass) skipped.auc = oneClass;
    else metrics.auc = aucRoc(scores, labels);
    return { metrics, skipped };
  }
  const all = binaryMetrics(scores, labels);
  metrics = {
    auc: all.auc,
    accuracy: all.accuracy,
    precision: all.precision,
    recall: all.recall,
    logLoss: all.logLoss,
    brier: all.brier,
    expectedCalibrationError: all.expectedCalibrationError,
  };
  if (oneClass) {
    delete metrics.auc;
    skipped.auc = oneClass;
  }
  if (positives === 0) {
    delete metrics.recall;
    skipped.recall = `no positive label among ${n} rows`;
  }
  // Precision with nothing scored positive stays NaN: the model's doing, not the holdout's, so a
  // rule on it fails rather than skips. Outputs show it as null.
  return { metrics, skipped };
}

function regression(scores: NumericArray, labels: NumericArray, scope: 'overall' | 'slice'): MeasuredMetrics {
  const metrics: Record<string, number> = { mae: mae(scores, labels), rmse: rmse(scores, labels) };
  const skipped: Record<string, string> = {};
  if (scope === 'slice') return { metrics, skipped };
  const r2 = rSquared(scores, labels);
  if (Number.isNaN(r2)) {
    skipped.r2 =
      labels.length < 2
        ? `fewer than 2 rows (${labels.length})`
        : `zero variance: all ${labels.length} labels are ${labels[0]}`;
  } else metrics.r2 = r2;
  return { metrics, skipped };
}

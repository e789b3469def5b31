import type { EpochRecord } from '../../ml/train.ts';
import type { HoldoutMetrics } from '../../ml/trainPipeline.ts';

/**
 * What `train` prints, by task: AUC and log loss for a binary model, MAE, RMSE and R² for a
 * regression; a metric the rows cannot define is printed as skipped with its reason, never NaN.
 */
type Task = 'binary' | 'regression';

const HEADLINE: Record<Task, readonly { key: string; label: string }[]> = {
  binary: [
    { key: 'auc', label: 'AUC' },
    { key: 'logLoss', label: 'log loss' },
  ],
  regression: [
    { key: 'mae', label: 'MAE' },
    { key: 'rmse', label: 'RMSE' },
    { key: 'r2', label: 'R²' },
  ],
};

function metricText(
  label: string,
  value: number | undefined,
  skipped: Record<string, string> | undefined,
  key: string,
): string {
  if (value !== undefined && Number.isFinite(value)) return `${label} ${value.toFixed(4)}`;
  const reason = skipped?.[key];
  return `${label} skipped (${reason ?? 'undefined on these rows'})`;
}

/** "AUC 0.7100, log loss 0.4500" or "MAE 12.3000, RMSE 30.1000, R² skipped (...)". */
export function formatMetrics(
  task: Task,
  metrics: Record<string, unknown>,
  skipped?: Record<string, string>,
): string {
  return HEADLINE[task]
    .map(({ key, label }) => metricText(label, metrics[key] as number | undefined, skipped, key))
    .join(', ');
}

export function formatEpoch(task: Task, record: EpochRecord): string {
  const metric = task === 'binary' ? 'AUC' : 'RMSE';
  return (
    `epoch ${record.epoch}: loss ${record.loss.toFixed(4)}, validation loss ${record.validationLoss.toFixed(4)}, ` +
    `${metric} ${record.validationMetric.toFixed(4)}, ${Math.round(record.samplesPerSecond).toLocaleString('en-US')} samples/s\n`
  );
}

/** The holdout line: the model, then the baseline and the model's gain on the first metric. */
export function formatHoldout(task: Task, holdout: HoldoutMetrics, baselineName: string): string {
  const model = formatMetrics(task, holdout.metrics, holdout.skipped);
  let line = `holdout ${holdout.from}..${holdout.to} (${holdout.days} days, ${holdout.rows.toLocaleString('en-US')} rows): model ${model}`;
  if (holdout.baseline) {
    line += `; baseline (${baselineName}) ${formatMetrics(task, holdout.baseline.metrics, holdout.baseline.skipped)}`;
    const first = HEADLINE[task][0] as { key: string; label: string };
    const ours = holdout.metrics[first.key];
    const theirs = holdout.baseline.metrics[first.key];
    if (ours !== undefined && theirs !== undefined) {
      // AUC: higher is better; MAE: lower is better. The sign says which way the model is ahead.
      const gain = task === 'binary' ? ours - theirs : theirs - ours;
      line += `; model ${gain >= 0 ? 'ahead' : 'behind'} by ${Math.abs(gain).toFixed(4)} ${first.label}`;
    }
  }
  return `${line}\n`;
}

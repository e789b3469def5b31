import { ConfigError } from '../errors.ts';
import type { MetricName, TaskType } from './types.ts';

export type MetricDirection = 'higherIsBetter' | 'lowerIsBetter';

interface MetricInfo {
  direction: MetricDirection;
  /** How reasons name it: "log loss rose 1.2%". */
  label: string;
}

/** The metrics rules may name. Names match the keys `binaryMetrics` in src/ml/metrics.ts records. */
const METRICS: Record<MetricName, MetricInfo> = {
  auc: { direction: 'higherIsBetter', label: 'AUC' },
  accuracy: { direction: 'higherIsBetter', label: 'accuracy' },
  precision: { direction: 'higherIsBetter', label: 'precision' },
  recall: { direction: 'higherIsBetter', label: 'recall' },
  logLoss: { direction: 'lowerIsBetter', label: 'log loss' },
  brier: { direction: 'lowerIsBetter', label: 'Brier score' },
  rmse: { direction: 'lowerIsBetter', label: 'RMSE' },
  mae: { direction: 'lowerIsBetter', label: 'MAE' },
  r2: { direction: 'higherIsBetter', label: 'R²' },
  expectedCalibrationError: { direction: 'lowerIsBetter', label: 'expected calibration error' },
};

export const KNOWN_METRICS = Object.keys(METRICS) as MetricName[];

/**
 * What an evaluation of each task holds (src/tasks/evaluate.ts measures exactly these), overall
 * and per slice. A rule on another metric could never be evaluated: it is refused when the rules
 * meet the pipeline's task (`checkRulesForTask`), not at night.
 */
export const METRICS_BY_TASK: Record<
  TaskType,
  { overall: readonly MetricName[]; slice: readonly MetricName[] }
> = {
  binary: {
    overall: ['auc', 'accuracy', 'precision', 'recall', 'logLoss', 'brier', 'expectedCalibrationError'],
    slice: ['auc', 'accuracy', 'logLoss', 'brier'],
  },
  regression: { overall: ['mae', 'rmse', 'r2'], slice: ['mae', 'rmse'] },
};

export class UnknownMetricError extends ConfigError {
  readonly metric: string;
  constructor(metric: string) {
    super(`unknown metric '${metric}': expected one of ${KNOWN_METRICS.join(', ')}`);
    this.metric = metric;
  }
}

export function isKnownMetric(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

function metricInfo(name: string): MetricInfo {
  if (!isKnownMetric(name)) throw new UnknownMetricError(name);
  return METRICS[name];
}

export function metricDirection(name: string): MetricDirection {
  return metricInfo(name).direction;
}

export function metricLabel(name: string): string {
  return metricInfo(name).label;
}

/**
 * How much worse `candidate` is than `baseline`, in the metric's units: positive when worse,
 * negative when better, whatever the metric's direction.
 */
export function worsening(metric: MetricName, candidate: number, baseline: number): number {
  return metricDirection(metric) === 'higherIsBetter' ? baseline - candidate : candidate - baseline;
}

import { formatNumber } from './format.ts';
import { metricLabel, worsening } from './metrics.ts';
import { exceeds } from './rules/common.ts';
import type { EvaluationResult, MetricName } from './types.ts';

export interface RollbackInput {
  /** The current champion on the newest labelled day. */
  champion: EvaluationResult;
  /** The version before it, on the same day; absent when there is none to go back to. */
  previous?: EvaluationResult;
  /** How much worse than `previous` the champion may do, in the metric's units. */
  maxDrop: number;
  /** Direction-aware; AUC unless the pipeline says otherwise. */
  metric?: MetricName;
}

export interface RollbackDecision {
  rollback: boolean;
  reason: string;
}

/**
 * The monitor's decision: roll back when the champion does worse than `previous` on fresh labels
 * by more than `maxDrop`. Never rolls back on a value it cannot measure (a single-class day has
 * no AUC): a rollback is a production change and needs evidence.
 */
export function shouldRollback(input: RollbackInput): RollbackDecision {
  const metric = input.metric ?? 'auc';
  const label = metricLabel(metric);
  if (!Number.isFinite(input.maxDrop) || input.maxDrop < 0) {
    throw new RangeError(`shouldRollback: expected maxDrop a finite number >= 0, found ${input.maxDrop}`);
  }
  if (input.previous === undefined) return { rollback: false, reason: 'no previous version to roll back to' };
  const champion = input.champion.metrics[metric];
  const previous = input.previous.metrics[metric];
  const skipped = input.champion.skipped?.[metric] ?? input.previous.skipped?.[metric];
  if (skipped !== undefined && !(Number.isFinite(champion) && Number.isFinite(previous))) {
    return { rollback: false, reason: `${label} skipped: ${skipped}: keeping the champion` };
  }
  if (
    champion === undefined ||
    !Number.isFinite(champion) ||
    previous === undefined ||
    !Number.isFinite(previous)
  ) {
    return {
      rollback: false,
      reason: `${label} not measurable on the newest labelled day (champion ${champion}, previous ${previous}): keeping the champion`,
    };
  }
  const drop = worsening(metric, champion, previous);
  const values = `(previous ${formatNumber(previous)}, champion ${formatNumber(champion)})`;
  const allowed = `allowed ${formatNumber(input.maxDrop)}`;
  if (exceeds(drop, input.maxDrop)) {
    return {
      rollback: true,
      reason: `champion ${label} ${formatNumber(drop, input.maxDrop)} worse than previous > ${allowed} ${values}`,
    };
  }
  const standing =
    drop > 0
      ? `${formatNumber(drop, input.maxDrop)} worse than previous <= ${allowed}`
      : 'no worse than previous';
  return { rollback: false, reason: `champion ${label} ${standing} ${values}` };
}

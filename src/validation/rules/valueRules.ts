import { formatNumber } from '../format.ts';
import { metricLabel } from '../metrics.ts';
import type { CeilingRule, EvaluationResult, FloorRule, RuleResult } from '../types.ts';
import { exceeds, readMetric } from './common.ts';

/** Floors and ceilings: the candidate alone against a fixed bound, champion or not. */
export function evaluateValueRule(
  rule: FloorRule | CeilingRule,
  name: string,
  candidate: EvaluationResult,
): RuleResult {
  const threshold = rule.kind === 'floor' ? rule.min : rule.max;
  const base = { rule: name, kind: rule.kind, metric: rule.metric, threshold };
  const reading = readMetric(candidate.metrics, rule.metric, 'candidate', candidate.skipped);
  // A metric the holdout cannot define (one class, a constant label) is skipped with its reason,
  // as slices under minCount are; any other unmeasurable value fails: a rule the pipeline asked
  // for cannot be waved through.
  if (!reading.ok) {
    return { ...base, value: null, verdict: reading.skipped ? 'skipped' : 'fail', reason: reading.problem };
  }
  const label = metricLabel(rule.metric);
  const value = reading.value;
  const shown = formatNumber(value, threshold);
  if (rule.kind === 'floor') {
    const failed = exceeds(threshold, value);
    return {
      ...base,
      value,
      verdict: failed ? 'fail' : 'pass',
      reason: `${label} ${shown} ${failed ? '<' : '>='} floor ${formatNumber(threshold)}`,
    };
  }
  const failed = exceeds(value, threshold);
  return {
    ...base,
    value,
    verdict: failed ? 'fail' : 'pass',
    reason: `${label} ${shown} ${failed ? '>' : '<='} ceiling ${formatNumber(threshold)}`,
  };
}

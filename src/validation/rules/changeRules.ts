import type { ChangeRule, EvaluationResult, RuleResult } from '../types.ts';
import { readMetric, skippedWithoutChampion, verdictWithoutComparison } from './common.ts';
import { compareWithChampion } from './compareWithChampion.ts';

/** The candidate against the champion on the whole holdout. */
export function evaluateChangeRule(
  rule: ChangeRule,
  name: string,
  candidate: EvaluationResult,
  champion: EvaluationResult | undefined,
): RuleResult {
  const base = { rule: name, kind: rule.kind, metric: rule.metric, threshold: rule.maxWorsening };
  const candidateReading = readMetric(candidate.metrics, rule.metric, 'candidate', candidate.skipped);
  if (champion === undefined) return skippedWithoutChampion({ ...base, value: candidateReading.value });
  const championReading = readMetric(champion.metrics, rule.metric, 'champion', champion.skipped);
  const values = { value: candidateReading.value, baselineValue: championReading.value };
  if (!candidateReading.ok || !championReading.ok) {
    return {
      ...base,
      ...values,
      ...verdictWithoutComparison(rule.metric, candidateReading, championReading),
    };
  }
  const verdict = compareWithChampion(rule, candidateReading.value, championReading.value);
  return {
    ...base,
    ...values,
    verdict: verdict.failed ? 'fail' : 'pass',
    reason: `${verdict.sentence} (${verdict.transition})`,
  };
}

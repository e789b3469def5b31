import { formatCount } from '../format.ts';
import type { EvaluationResult, RuleResult, SliceChangeRule, SliceKey } from '../types.ts';
import { readMetric, skippedWithoutChampion, verdictWithoutComparison } from './common.ts';
import { compareWithChampion } from './compareWithChampion.ts';

/**
 * The slices a rule checks. `busiest` ranks the candidate's slices of one column by holdout
 * count (ties by key, so the choice is deterministic); candidate and champion share the holdout,
 * so their counts, and the ranking, are the same.
 */
export function selectSlices(rule: SliceChangeRule, candidate: EvaluationResult): SliceKey[] {
  if ('keys' in rule.slices) return [...rule.slices.keys];
  const prefix = `${rule.slices.column}=`;
  return Object.entries(candidate.slices)
    .filter(([key]) => key.startsWith(prefix))
    .sort(([keyA, a], [keyB, b]) => b.count - a.count || (keyA < keyB ? -1 : keyA > keyB ? 1 : 0))
    .slice(0, rule.slices.busiest)
    .map(([key]) => key);
}

/** One result per selected slice; one result for the whole rule when there is nothing to compare. */
export function evaluateSliceRule(
  rule: SliceChangeRule,
  name: string,
  candidate: EvaluationResult,
  champion: EvaluationResult | undefined,
): RuleResult[] {
  const base = { rule: name, kind: rule.kind, metric: rule.metric, threshold: rule.maxWorsening };
  if (champion === undefined) return [skippedWithoutChampion({ ...base, value: null })];
  const keys = selectSlices(rule, candidate);
  if (keys.length === 0 && 'column' in rule.slices) {
    // Every holdout row has some value of the column: no slice at all means the evaluation was
    // not sliced by it, a wiring bug that must not pass as "nothing to check".
    const column = rule.slices.column;
    return [
      {
        ...base,
        value: null,
        verdict: 'fail',
        reason: `no slices '${column}=...' in the candidate's evaluation: was the holdout sliced by ${column}?`,
      },
    ];
  }
  return keys.map((slice) => evaluateOneSlice(rule, { ...base, slice }, candidate, champion));
}

function evaluateOneSlice(
  rule: SliceChangeRule,
  base: Omit<RuleResult, 'value' | 'verdict' | 'reason'> & { slice: SliceKey },
  candidate: EvaluationResult,
  champion: EvaluationResult,
): RuleResult {
  const slice = base.slice;
  const candidateSlice = candidate.slices[slice];
  const count = candidateSlice?.count ?? 0;
  if (candidateSlice === undefined || count < rule.minCount) {
    return {
      ...base,
      value: null,
      verdict: 'skipped',
      reason: `slice ${slice}: n=${formatCount(count)} < minimum ${formatCount(rule.minCount)}`,
    };
  }
  const championSlice = champion.slices[slice];
  if (championSlice === undefined || championSlice.count !== count) {
    const championCount =
      championSlice === undefined ? 'no such slice' : `n=${formatCount(championSlice.count)}`;
    return {
      ...base,
      value: null,
      verdict: 'fail',
      reason: `slice ${slice}: candidate n=${formatCount(count)} but champion ${championCount}: not evaluated on the same holdout`,
    };
  }
  const candidateReading = readMetric(
    candidateSlice.metrics,
    rule.metric,
    'candidate',
    candidateSlice.skipped,
  );
  const championReading = readMetric(championSlice.metrics, rule.metric, 'champion', championSlice.skipped);
  const values = { value: candidateReading.value, baselineValue: championReading.value };
  if (!candidateReading.ok || !championReading.ok) {
    const unmeasured = verdictWithoutComparison(rule.metric, candidateReading, championReading);
    return {
      ...base,
      ...values,
      verdict: unmeasured.verdict,
      reason: `slice ${slice}: ${unmeasured.reason}`,
    };
  }
  const verdict = compareWithChampion(rule, candidateReading.value, championReading.value);
  return {
    ...base,
    ...values,
    verdict: verdict.failed ? 'fail' : 'pass',
    reason: `slice ${slice}: ${verdict.sentence} (n=${formatCount(count)}; ${verdict.transition})`,
  };
}

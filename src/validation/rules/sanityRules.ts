import { formatCount, formatNumber } from '../format.ts';
import { PSI_DEFAULT_BINS, populationStabilityIndex } from '../psi.ts';
import type { EvaluationResult, FiniteScoresRule, PsiRule, RuleResult } from '../types.ts';
import { exceeds, skippedWithoutChampion } from './common.ts';

/** Counts NaN and infinite candidate scores; the value recorded is their total. */
export function evaluateFiniteScoresRule(
  rule: FiniteScoresRule,
  name: string,
  candidate: EvaluationResult,
): RuleResult {
  const threshold = rule.maxCount ?? 0;
  const base = { rule: name, kind: rule.kind, threshold };
  const scores = candidate.scores;
  // Without scores nothing was checked; a sanity rule the pipeline asked for must not pass blind.
  if (scores === undefined || scores.length === 0) {
    return {
      ...base,
      value: null,
      verdict: 'fail',
      reason: 'candidate scores not supplied to the sanity check',
    };
  }
  let nan = 0;
  let infinite = 0;
  for (const score of scores) {
    if (Number.isNaN(score)) nan++;
    else if (!Number.isFinite(score)) infinite++;
  }
  const nonFinite = nan + infinite;
  const failed = nonFinite > threshold;
  const found =
    nonFinite === 0
      ? 'no NaN or infinite scores'
      : `${formatCount(nan)} NaN and ${formatCount(infinite)} infinite scores`;
  return {
    ...base,
    value: nonFinite,
    verdict: failed ? 'fail' : 'pass',
    reason: `${found} among ${formatCount(scores.length)} ${failed ? '>' : '<='} allowed ${formatCount(threshold)}`,
  };
}

/** PSI between champion (reference) and candidate scores on the same holdout; see psi.ts. */
export function evaluatePsiRule(
  rule: PsiRule,
  name: string,
  candidate: EvaluationResult,
  champion: EvaluationResult | undefined,
): RuleResult {
  const base = { rule: name, kind: rule.kind, threshold: rule.max };
  if (champion === undefined) return skippedWithoutChampion({ ...base, value: null });
  if (candidate.scores === undefined || champion.scores === undefined) {
    const whose = candidate.scores === undefined ? 'candidate' : 'champion';
    return { ...base, value: null, verdict: 'fail', reason: `${whose} scores not supplied to the PSI check` };
  }
  const bins = rule.bins ?? PSI_DEFAULT_BINS;
  let result: ReturnType<typeof populationStabilityIndex>;
  try {
    result = populationStabilityIndex(champion.scores, candidate.scores, bins);
  } catch (error) {
    return {
      ...base,
      value: null,
      verdict: 'fail',
      reason: error instanceof Error ? error.message : String(error),
    };
  }
  const failed = exceeds(result.psi, rule.max);
  const usedBins = result.referenceProportions.length;
  const binNote =
    usedBins === bins
      ? `${bins} champion-quantile bins`
      : `${usedBins} of ${bins} champion-quantile bins, the rest tied`;
  const leftOut =
    result.nonFiniteCandidate + result.nonFiniteReference === 0
      ? ''
      : `; left out ${formatCount(result.nonFiniteCandidate)} non-finite candidate and ${formatCount(result.nonFiniteReference)} champion scores`;
  return {
    ...base,
    value: result.psi,
    verdict: failed ? 'fail' : 'pass',
    reason: `score PSI ${formatNumber(result.psi, rule.max)} ${failed ? '>' : '<='} limit ${formatNumber(rule.max)} (${binNote}${leftOut})`,
  };
}

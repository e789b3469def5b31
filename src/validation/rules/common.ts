import { metricLabel } from '../metrics.ts';
import type { MetricName, RuleResult } from '../types.ts';

/**
 * Comparisons allow a relative 1e-9 of slack: 0.712 - 0.702 is 0.010000000000000009 in floating
 * point, and a drop of exactly the allowed amount must pass as the rule's author meant.
 */
export function exceeds(value: number, limit: number): boolean {
  return value > limit + 1e-9 * Math.max(1, Math.abs(limit));
}

export type MetricReading =
  | { ok: true; value: number }
  /**
   * `missing`: the evaluation has no such key (a wiring bug); `skipped`: the holdout cannot define
   * it (one class, a constant label), with the evaluation's reason; otherwise NaN or infinite.
   */
  | { ok: false; value: null; missing: boolean; skipped?: boolean; problem: string };

/** A metric of one evaluation; missing or non-finite values come back with a reason, not a number. */
export function readMetric(
  metrics: Record<string, number>,
  metric: MetricName,
  whose: string,
  skipped?: Record<string, string>,
): MetricReading {
  const label = metricLabel(metric);
  const skipReason = skipped?.[metric];
  if (skipReason !== undefined && !Number.isFinite(metrics[metric])) {
    return {
      ok: false,
      value: null,
      missing: false,
      skipped: true,
      problem: `${label} skipped: ${skipReason}`,
    };
  }
  if (!Object.hasOwn(metrics, metric)) {
    return {
      ok: false,
      value: null,
      missing: true,
      problem: `${label} missing from the ${whose}'s evaluation`,
    };
  }
  const value = metrics[metric] as number;
  if (!Number.isFinite(value)) {
    return {
      ok: false,
      value: null,
      missing: false,
      problem: `${label} is undefined (${value}) for the ${whose}`,
    };
  }
  return { ok: true, value };
}

export const NO_CHAMPION_REASON = 'no champion yet';

/** The result of a rule that compares with a champion, when there is none. */
export function skippedWithoutChampion(base: Omit<RuleResult, 'verdict' | 'reason'>): RuleResult {
  return { ...base, verdict: 'skipped', reason: NO_CHAMPION_REASON };
}

/**
 * When either side of a comparison cannot be measured, the verdict without comparing:
 * - a missing key on either side is a wiring bug: fail rather than bless;
 * - skipped for the candidate (the holdout cannot define it): skipped, with the reason;
 * - undefined (NaN) on both sides (a single-class holdout or slice) says nothing: skipped;
 * - undefined for the candidate only: fail, the candidate produced what the champion did not;
 * - undefined for the champion only says nothing against the candidate: skipped.
 * Only for readings of which at least one is not ok.
 */
export function verdictWithoutComparison(
  metric: MetricName,
  candidate: MetricReading,
  champion: MetricReading,
): { verdict: 'fail' | 'skipped'; reason: string } {
  if (!candidate.ok && candidate.missing) return { verdict: 'fail', reason: candidate.problem };
  if (!champion.ok && champion.missing) return { verdict: 'fail', reason: champion.problem };
  // The holdout cannot define it (the same rows for both): nothing to compare, nothing against.
  if (!candidate.ok && candidate.skipped) return { verdict: 'skipped', reason: candidate.problem };
  if (!candidate.ok && !champion.ok) {
    return {
      verdict: 'skipped',
      reason: `${metricLabel(metric)} is undefined for both candidate and champion`,
    };
  }
  if (!candidate.ok) return { verdict: 'fail', reason: candidate.problem };
  if (!champion.ok) return { verdict: 'skipped', reason: champion.problem };
  throw new Error('verdictWithoutComparison: both metrics are finite, compare them instead');
}

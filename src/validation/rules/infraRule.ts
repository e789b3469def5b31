import { formatCount } from '../format.ts';
import type { InfraCheck, InfraRule, RuleResult } from '../types.ts';

/** Turns the caller's load-and-score measurement into a rule result; no measurement fails. */
export function evaluateInfraRule(rule: InfraRule, name: string, infra: InfraCheck | undefined): RuleResult {
  const base = { rule: name, kind: rule.kind, threshold: rule.budgetMs };
  const budget = `budget ${formatCount(rule.budgetMs)} ms`;
  if (infra === undefined) {
    return {
      ...base,
      value: null,
      verdict: 'fail',
      reason: 'infra check not run: no load-and-score result supplied',
    };
  }
  if (!infra.loaded) {
    const why = infra.error === undefined ? '' : `: ${infra.error}`;
    return {
      ...base,
      value: infra.latencyMs ?? null,
      verdict: 'fail',
      reason: `artifact failed to load${why}`,
    };
  }
  if (infra.latencyMs === undefined || !Number.isFinite(infra.latencyMs)) {
    return {
      ...base,
      value: null,
      verdict: 'fail',
      reason: `artifact loaded but no latency was measured (${budget})`,
    };
  }
  // Two decimals so a latency just over the budget does not print as equal to it.
  const latency = `${infra.latencyMs.toLocaleString('en-US', { maximumFractionDigits: 2 })} ms`;
  const failed = infra.latencyMs > rule.budgetMs;
  return {
    ...base,
    value: infra.latencyMs,
    verdict: failed ? 'fail' : 'pass',
    reason: `loaded and scored a sample in ${latency} ${failed ? '>' : '<='} ${budget}`,
  };
}

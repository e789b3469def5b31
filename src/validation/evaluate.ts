import { ruleName, validateRuleSpecs } from './ruleSpecs.ts';
import { evaluateChangeRule } from './rules/changeRules.ts';
import { evaluateInfraRule } from './rules/infraRule.ts';
import { evaluateFiniteScoresRule, evaluatePsiRule } from './rules/sanityRules.ts';
import { evaluateSliceRule } from './rules/sliceRules.ts';
import { evaluateValueRule } from './rules/valueRules.ts';
import type { Blessing, EvaluationResult, InfraCheck, RuleResult, RuleSpec } from './types.ts';

export interface BlessingInput {
  rules: readonly RuleSpec[];
  /** The candidate on the holdout. */
  candidate: EvaluationResult;
  /** The champion on the same holdout; absent when there is no champion yet. */
  champion?: EvaluationResult;
  /** The load-and-score measurement, required when the rules include an infra rule. */
  infra?: InfraCheck;
}

function evaluateRule(rule: RuleSpec, input: BlessingInput): RuleResult[] {
  const name = ruleName(rule);
  switch (rule.kind) {
    case 'floor':
    case 'ceiling':
      return [evaluateValueRule(rule, name, input.candidate)];
    case 'change':
      return [evaluateChangeRule(rule, name, input.candidate, input.champion)];
    case 'slice':
      return evaluateSliceRule(rule, name, input.candidate, input.champion);
    case 'finiteScores':
      return [evaluateFiniteScoresRule(rule, name, input.candidate)];
    case 'psi':
      return [evaluatePsiRule(rule, name, input.candidate, input.champion)];
    case 'infra':
      return [evaluateInfraRule(rule, name, input.infra)];
  }
}

const METRIC_RULE_KINDS: ReadonlySet<string> = new Set(['floor', 'ceiling', 'change', 'slice']);

/**
 * The blessing of a candidate: every rule's result, in the order of the rules (a slice rule gives
 * one result per slice). It passes when no result fails and at least one was evaluated: a
 * blessing that checked nothing (say, only change rules and no champion) is not a blessing.
 * When the rules measure the model (floors, ceilings, changes, slices), at least one of those
 * must pass too: sanity and infra checks alone, with every metric skipped on a holdout that
 * cannot define it, say nothing about the model's quality.
 * Pure: no I/O, the same input gives the same blessing.
 */
export function evaluateBlessing(input: BlessingInput): Blessing {
  const rules = validateRuleSpecs(input.rules);
  const results = rules.flatMap((rule) => evaluateRule(rule, input));
  const failed = results.filter((result) => result.verdict === 'fail');
  const passedCount = results.filter((result) => result.verdict === 'pass').length;
  const skippedCount = results.length - failed.length - passedCount;
  const baseline = input.champion === undefined ? 'none' : 'champion';
  const metricResults = results.filter((result) => METRIC_RULE_KINDS.has(result.kind));
  const measured = metricResults.length === 0 || metricResults.some((result) => result.verdict === 'pass');
  const passed = failed.length === 0 && passedCount > 0 && measured;
  const counts = `${passedCount} passed, ${failed.length} failed, ${skippedCount} skipped`;
  const against = baseline === 'none' ? 'no champion yet: floors and sanity decide' : 'against the champion';
  let summary: string;
  if (passed) summary = `blessed (${against}): ${counts}`;
  else if (failed.length === 0 && passedCount === 0)
    summary = `not blessed (${against}): no rule could be evaluated, ${counts}`;
  else if (failed.length === 0) {
    const reasons = metricResults.map((result) => `${result.rule}: ${result.reason}`).join('; ');
    summary = `not blessed (${against}): no metric rule could be evaluated, ${counts}; ${reasons}`;
  } else {
    const reasons = failed.map((result) => `${result.rule}: ${result.reason}`).join('; ');
    summary = `not blessed (${against}): ${counts}; ${reasons}`;
  }
  return { passed, rules: results, baseline, summary };
}

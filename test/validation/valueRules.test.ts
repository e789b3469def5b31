import { describe, expect, it } from 'vitest';
import { evaluateBlessing, type RuleSpec } from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

function onlyResult(rule: RuleSpec, metrics: Record<string, number>) {
  const [result, ...rest] = evaluateBlessing({ rules: [rule], candidate: evaluation(metrics) }).rules;
  expect(rest).toEqual([]);
  return result;
}

describe('floor and ceiling rules', () => {
  it('passes a candidate at or above its floor', () => {
    expect(onlyResult({ kind: 'floor', metric: 'auc', min: 0.65 }, { auc: 0.712 })).toEqual({
      rule: 'auc floor',
      kind: 'floor',
      metric: 'auc',
      value: 0.712,
      threshold: 0.65,
      verdict: 'pass',
      reason: 'AUC 0.712 >= floor 0.65',
    });
    expect(onlyResult({ kind: 'floor', metric: 'auc', min: 0.65 }, { auc: 0.65 })?.verdict).toBe('pass');
  });

  it('fails a candidate below its floor', () => {
    const result = onlyResult({ kind: 'floor', metric: 'auc', min: 0.65 }, { auc: 0.6123 });
    expect(result?.verdict).toBe('fail');
    expect(result?.reason).toBe('AUC 0.6123 < floor 0.65');
  });

  it('shows enough digits when a value rounds to its bound', () => {
    const result = onlyResult({ kind: 'floor', metric: 'auc', min: 0.65 }, { auc: 0.649999 });
    expect(result?.reason).toBe('AUC 0.649999 < floor 0.65');
  });

  it('bounds lower-better metrics from above with a ceiling', () => {
    const rule: RuleSpec = { kind: 'ceiling', metric: 'logLoss', max: 0.5 };
    expect(onlyResult(rule, { logLoss: 0.4712 })?.reason).toBe('log loss 0.4712 <= ceiling 0.5');
    const failed = onlyResult(rule, { logLoss: 0.52 });
    expect(failed?.verdict).toBe('fail');
    expect(failed?.reason).toBe('log loss 0.52 > ceiling 0.5');
  });

  it('fails a metric the evaluation does not have', () => {
    const result = onlyResult({ kind: 'floor', metric: 'recall', min: 0.2 }, { auc: 0.7 });
    expect(result).toMatchObject({
      verdict: 'fail',
      value: null,
      reason: "recall missing from the candidate's evaluation",
    });
  });

  it('fails an undefined (NaN) metric instead of waving it through', () => {
    const result = onlyResult({ kind: 'floor', metric: 'auc', min: 0.65 }, { auc: Number.NaN });
    expect(result).toMatchObject({
      verdict: 'fail',
      value: null,
      reason: 'AUC is undefined (NaN) for the candidate',
    });
  });
});

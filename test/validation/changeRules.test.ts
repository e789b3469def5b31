import { describe, expect, it } from 'vitest';
import { evaluateBlessing, type RuleSpec } from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

function changeResult(rule: RuleSpec, candidate: Record<string, number>, champion?: Record<string, number>) {
  const blessing = evaluateBlessing({
    rules: [rule],
    candidate: evaluation(candidate),
    ...(champion === undefined ? {} : { champion: evaluation(champion) }),
  });
  expect(blessing.rules).toHaveLength(1);
  return blessing.rules[0];
}

const aucMayDrop001: RuleSpec = { kind: 'change', metric: 'auc', mode: 'absolute', maxWorsening: 0.01 };
const logLossMayRise2Percent: RuleSpec = {
  kind: 'change',
  metric: 'logLoss',
  mode: 'relative',
  maxWorsening: 0.02,
};

describe('change rules against the champion', () => {
  it('passes an absolute drop within the allowance and records both values', () => {
    expect(changeResult(aucMayDrop001, { auc: 0.712 }, { auc: 0.72 })).toEqual({
      rule: 'auc change (absolute)',
      kind: 'change',
      metric: 'auc',
      value: 0.712,
      baselineValue: 0.72,
      threshold: 0.01,
      verdict: 'pass',
      reason: 'AUC dropped 0.008 <= allowed 0.01 (0.72 -> 0.712)',
    });
  });

  it('fails an absolute drop beyond the allowance', () => {
    const result = changeResult(aucMayDrop001, { auc: 0.7 }, { auc: 0.7231 });
    expect(result?.verdict).toBe('fail');
    expect(result?.reason).toBe('AUC dropped 0.0231 > allowed 0.01 (0.7231 -> 0.7)');
  });

  it('passes a drop of exactly the allowance despite floating-point error', () => {
    // 0.712 - 0.702 is 0.010000000000000009 in binary floating point.
    const result = changeResult(aucMayDrop001, { auc: 0.702 }, { auc: 0.712 });
    expect(result?.verdict).toBe('pass');
    expect(result?.reason).toBe('AUC dropped 0.01 <= allowed 0.01 (0.712 -> 0.702)');
  });

  it('passes an improvement and says so', () => {
    expect(changeResult(aucMayDrop001, { auc: 0.716 }, { auc: 0.712 })?.reason).toBe(
      'AUC rose 0.004, allowed drop 0.01 (0.712 -> 0.716)',
    );
  });

  it('treats a rise of a lower-better metric as the worsening', () => {
    const rule: RuleSpec = { kind: 'change', metric: 'brier', mode: 'absolute', maxWorsening: 0.005 };
    const worse = changeResult(rule, { brier: 0.16 }, { brier: 0.15 });
    expect(worse?.verdict).toBe('fail');
    expect(worse?.reason).toBe('Brier score rose 0.01 > allowed 0.005 (0.15 -> 0.16)');
    const better = changeResult(rule, { brier: 0.14 }, { brier: 0.15 });
    expect(better?.verdict).toBe('pass');
    expect(better?.reason).toBe('Brier score fell 0.01, allowed rise 0.005 (0.15 -> 0.14)');
  });

  it('measures a relative change as a fraction of the champion value', () => {
    // 0.5 -> 0.506 is a 1.2% rise: within 2%.
    const within = changeResult(logLossMayRise2Percent, { logLoss: 0.506 }, { logLoss: 0.5 });
    expect(within?.verdict).toBe('pass');
    expect(within?.reason).toBe('log loss rose 1.2% <= allowed 2% (0.5 -> 0.506)');
    // 0.5 -> 0.515 is 3%: the same absolute 0.015 would pass an absolute 0.02 rule.
    const beyond = changeResult(logLossMayRise2Percent, { logLoss: 0.515 }, { logLoss: 0.5 });
    expect(beyond?.verdict).toBe('fail');
    expect(beyond?.reason).toBe('log loss rose 3% > allowed 2% (0.5 -> 0.515)');
    const absolute: RuleSpec = { kind: 'change', metric: 'logLoss', mode: 'absolute', maxWorsening: 0.02 };
    expect(changeResult(absolute, { logLoss: 0.515 }, { logLoss: 0.5 })?.verdict).toBe('pass');
  });

  it('is skipped with "no champion yet" when there is no champion', () => {
    expect(changeResult(aucMayDrop001, { auc: 0.7 })).toEqual({
      rule: 'auc change (absolute)',
      kind: 'change',
      metric: 'auc',
      value: 0.7,
      threshold: 0.01,
      verdict: 'skipped',
      reason: 'no champion yet',
    });
  });

  it('is skipped when the champion value is undefined, failed when it is missing', () => {
    const undefinedChampion = changeResult(aucMayDrop001, { auc: 0.7 }, { auc: Number.NaN });
    expect(undefinedChampion).toMatchObject({
      verdict: 'skipped',
      reason: 'AUC is undefined (NaN) for the champion',
    });
    const missingChampion = changeResult(aucMayDrop001, { auc: 0.7 }, { logLoss: 0.5 });
    expect(missingChampion).toMatchObject({
      verdict: 'fail',
      reason: "AUC missing from the champion's evaluation",
    });
  });

  it('fails when the candidate value is undefined and the champion one is not', () => {
    const result = changeResult(aucMayDrop001, { auc: Number.NaN }, { auc: 0.7 });
    expect(result).toMatchObject({
      verdict: 'fail',
      value: null,
      reason: 'AUC is undefined (NaN) for the candidate',
    });
  });
});

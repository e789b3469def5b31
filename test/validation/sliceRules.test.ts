import { describe, expect, it } from 'vitest';
import { evaluateBlessing, type RuleSpec, type SliceEvaluation } from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

const busiestOrigins = {
  kind: 'slice',
  metric: 'auc',
  mode: 'absolute',
  maxWorsening: 0.02,
  minCount: 500,
  slices: { column: 'origin', busiest: 3 },
} satisfies RuleSpec;

function slice(count: number, auc: number): SliceEvaluation {
  return { count, metrics: { auc } };
}

const championSlices = {
  'origin=ORD': slice(1204, 0.7),
  'origin=ATL': slice(950, 0.68),
  'origin=DFW': slice(312, 0.66),
  'origin=LAX': slice(120, 0.61),
  'dest=ORD': slice(5000, 0.7),
};

describe('per-slice change rules', () => {
  it('compares the busiest slices one by one and skips those under the minimum count', () => {
    const candidateSlices = {
      ...championSlices,
      'origin=ORD': slice(1204, 0.669),
      'origin=ATL': slice(950, 0.675),
      'origin=DFW': slice(312, 0.5),
    };
    const blessing = evaluateBlessing({
      rules: [busiestOrigins],
      candidate: evaluation({ auc: 0.7 }, { slices: candidateSlices }),
      champion: evaluation({ auc: 0.7 }, { slices: championSlices }),
    });
    expect(blessing.rules).toEqual([
      {
        rule: 'auc slice change (absolute)',
        kind: 'slice',
        metric: 'auc',
        slice: 'origin=ORD',
        value: 0.669,
        baselineValue: 0.7,
        threshold: 0.02,
        verdict: 'fail',
        reason: 'slice origin=ORD: AUC dropped 0.031 > allowed 0.02 (n=1,204; 0.7 -> 0.669)',
      },
      {
        rule: 'auc slice change (absolute)',
        kind: 'slice',
        metric: 'auc',
        slice: 'origin=ATL',
        value: 0.675,
        baselineValue: 0.68,
        threshold: 0.02,
        verdict: 'pass',
        reason: 'slice origin=ATL: AUC dropped 0.005 <= allowed 0.02 (n=950; 0.68 -> 0.675)',
      },
      {
        rule: 'auc slice change (absolute)',
        kind: 'slice',
        metric: 'auc',
        slice: 'origin=DFW',
        value: null,
        threshold: 0.02,
        verdict: 'skipped',
        reason: 'slice origin=DFW: n=312 < minimum 500',
      },
    ]);
    expect(blessing.passed).toBe(false);
  });

  it('checks named slices, skipping one the holdout does not have', () => {
    const rule: RuleSpec = {
      ...busiestOrigins,
      slices: { keys: ['origin=ATL', 'origin=SFO'] },
    } satisfies RuleSpec;
    const blessing = evaluateBlessing({
      rules: [rule],
      candidate: evaluation({}, { slices: championSlices }),
      champion: evaluation({}, { slices: championSlices }),
    });
    expect(blessing.rules.map((result) => [result.slice, result.verdict, result.reason])).toEqual([
      ['origin=ATL', 'pass', 'slice origin=ATL: AUC unchanged, allowed drop 0.02 (n=950; 0.68 -> 0.68)'],
      ['origin=SFO', 'skipped', 'slice origin=SFO: n=0 < minimum 500'],
    ]);
    expect(blessing.passed).toBe(true);
  });

  it('fails a slice whose counts differ: the models were not scored on the same holdout', () => {
    const blessing = evaluateBlessing({
      rules: [{ ...busiestOrigins, slices: { keys: ['origin=ORD'] } }],
      candidate: evaluation({}, { slices: { 'origin=ORD': slice(1204, 0.7) } }),
      champion: evaluation({}, { slices: { 'origin=ORD': slice(1100, 0.7) } }),
    });
    expect(blessing.rules[0]?.verdict).toBe('fail');
    expect(blessing.rules[0]?.reason).toBe(
      'slice origin=ORD: candidate n=1,204 but champion n=1,100: not evaluated on the same holdout',
    );
  });

  it('fails when the evaluation has no slices of the column at all', () => {
    const blessing = evaluateBlessing({
      rules: [busiestOrigins],
      candidate: evaluation({ auc: 0.7 }),
      champion: evaluation({ auc: 0.7 }),
    });
    expect(blessing.rules).toHaveLength(1);
    expect(blessing.rules[0]?.verdict).toBe('fail');
    expect(blessing.rules[0]?.reason).toBe(
      "no slices 'origin=...' in the candidate's evaluation: was the holdout sliced by origin?",
    );
  });

  it('skips a slice whose metric is undefined for both models', () => {
    const blessing = evaluateBlessing({
      rules: [{ ...busiestOrigins, slices: { keys: ['origin=ORD'] } }],
      candidate: evaluation({}, { slices: { 'origin=ORD': slice(800, Number.NaN) } }),
      champion: evaluation({}, { slices: { 'origin=ORD': slice(800, Number.NaN) } }),
    });
    expect(blessing.rules[0]).toMatchObject({
      verdict: 'skipped',
      reason: 'slice origin=ORD: AUC is undefined for both candidate and champion',
    });
  });

  it('uses the relative mode per slice too', () => {
    const rule: RuleSpec = {
      kind: 'slice',
      metric: 'logLoss',
      mode: 'relative',
      maxWorsening: 0.05,
      minCount: 100,
      slices: { keys: ['origin=ORD'] },
    };
    const blessing = evaluateBlessing({
      rules: [rule],
      candidate: evaluation({}, { slices: { 'origin=ORD': { count: 1204, metrics: { logLoss: 0.44 } } } }),
      champion: evaluation({}, { slices: { 'origin=ORD': { count: 1204, metrics: { logLoss: 0.4 } } } }),
    });
    expect(blessing.rules[0]?.reason).toBe(
      'slice origin=ORD: log loss rose 10% > allowed 5% (n=1,204; 0.4 -> 0.44)',
    );
  });

  it('is skipped as a whole with "no champion yet" when there is no champion', () => {
    const blessing = evaluateBlessing({
      rules: [busiestOrigins],
      candidate: evaluation({ auc: 0.7 }, { slices: championSlices }),
    });
    expect(blessing.rules).toEqual([
      {
        rule: 'auc slice change (absolute)',
        kind: 'slice',
        metric: 'auc',
        value: null,
        threshold: 0.02,
        verdict: 'skipped',
        reason: 'no champion yet',
      },
    ]);
  });
});

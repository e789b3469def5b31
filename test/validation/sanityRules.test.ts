import { describe, expect, it } from 'vitest';
import { evaluateBlessing, type RuleSpec } from '../../src/validation/index.ts';
import { evaluation, spreadScores } from './evaluations.ts';

describe('finite-scores sanity rule', () => {
  const rule: RuleSpec = { kind: 'finiteScores' };

  it('passes finite scores', () => {
    const blessing = evaluateBlessing({
      rules: [rule],
      candidate: evaluation({}, { scores: spreadScores(1500) }),
    });
    expect(blessing.rules[0]).toEqual({
      rule: 'finite scores',
      kind: 'finiteScores',
      value: 0,
      threshold: 0,
      verdict: 'pass',
      reason: 'no NaN or infinite scores among 1,500 <= allowed 0',
    });
  });

  it('fails NaN and infinite scores and counts each', () => {
    const scores = [0.1, Number.NaN, 0.3, Number.NaN, Number.NEGATIVE_INFINITY, 0.5];
    const blessing = evaluateBlessing({ rules: [rule], candidate: evaluation({}, { scores }) });
    expect(blessing.passed).toBe(false);
    expect(blessing.rules[0]).toMatchObject({
      value: 3,
      verdict: 'fail',
      reason: '2 NaN and 1 infinite scores among 6 > allowed 0',
    });
  });

  it('fails when no scores were supplied: nothing was checked', () => {
    const blessing = evaluateBlessing({ rules: [rule], candidate: evaluation({}) });
    expect(blessing.rules[0]).toMatchObject({
      value: null,
      verdict: 'fail',
      reason: 'candidate scores not supplied to the sanity check',
    });
  });
});

describe('PSI sanity rule', () => {
  const rule: RuleSpec = { kind: 'psi', max: 0.25, bins: 4 };
  const championScores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

  it('passes a stable score distribution', () => {
    const blessing = evaluateBlessing({
      rules: [rule],
      candidate: evaluation({}, { scores: championScores }),
      champion: evaluation({}, { scores: championScores }),
    });
    expect(blessing.rules[0]).toEqual({
      rule: 'score PSI',
      kind: 'psi',
      value: 0,
      threshold: 0.25,
      verdict: 'pass',
      reason: 'score PSI 0 <= limit 0.25 (4 champion-quantile bins)',
    });
  });

  it('fails a shifted score distribution with the PSI in the reason', () => {
    const blessing = evaluateBlessing({
      rules: [rule],
      candidate: evaluation({}, { scores: [0.05, 0.1, 0.15, 0.2, 0.35, 0.4, 0.6, 0.9] }),
      champion: evaluation({}, { scores: championScores }),
    });
    // 0.5 ln 2 = 0.34657...
    expect(blessing.rules[0]).toMatchObject({
      verdict: 'fail',
      reason: 'score PSI 0.3466 > limit 0.25 (4 champion-quantile bins)',
    });
    expect(blessing.rules[0]?.value).toBeCloseTo(0.5 * Math.LN2, 6);
  });

  it('notes tied edges and left-out non-finite scores in the reason', () => {
    const blessing = evaluateBlessing({
      rules: [rule],
      candidate: evaluation({}, { scores: [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.4, 0.6, Number.NaN] }),
      champion: evaluation({}, { scores: [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.4, 0.6] }),
    });
    expect(blessing.rules[0]?.reason).toBe(
      'score PSI 0 <= limit 0.25 (3 of 4 champion-quantile bins, the rest tied; left out 1 non-finite candidate and 0 champion scores)',
    );
  });

  it('is skipped with "no champion yet" and fails when the champion has no scores', () => {
    const candidate = evaluation({}, { scores: championScores });
    expect(evaluateBlessing({ rules: [rule], candidate }).rules[0]).toMatchObject({
      verdict: 'skipped',
      reason: 'no champion yet',
    });
    expect(evaluateBlessing({ rules: [rule], candidate, champion: evaluation({}) }).rules[0]).toMatchObject({
      verdict: 'fail',
      reason: 'champion scores not supplied to the PSI check',
    });
  });
});

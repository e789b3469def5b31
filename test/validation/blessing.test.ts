import { describe, expect, it } from 'vitest';
import { evaluateBlessing, type RuleSpec } from '../../src/validation/index.ts';
import { evaluation, spreadScores } from './evaluations.ts';

const rules: RuleSpec[] = [
  { kind: 'floor', metric: 'auc', min: 0.65 },
  { kind: 'change', metric: 'auc', mode: 'absolute', maxWorsening: 0.01 },
  {
    kind: 'slice',
    metric: 'auc',
    mode: 'absolute',
    maxWorsening: 0.03,
    minCount: 500,
    slices: { column: 'origin', busiest: 2 },
  },
  { kind: 'finiteScores' },
  { kind: 'psi', max: 0.25 },
  { kind: 'infra', budgetMs: 5000 },
];

const scores = spreadScores(2000);
const slices = { 'origin=ORD': { count: 1204, metrics: { auc: 0.7 } } };
const champion = evaluation({ auc: 0.7 }, { slices, scores });
const infra = { loaded: true, latencyMs: 800 };

describe('evaluateBlessing', () => {
  it('blesses a candidate that passes every rule against the champion', () => {
    const candidate = evaluation({ auc: 0.705 }, { slices, scores });
    const blessing = evaluateBlessing({ rules, candidate, champion, infra });
    expect(blessing.baseline).toBe('champion');
    expect(blessing.rules.map((result) => [result.rule, result.verdict])).toEqual([
      ['auc floor', 'pass'],
      ['auc change (absolute)', 'pass'],
      ['auc slice change (absolute)', 'pass'],
      ['finite scores', 'pass'],
      ['score PSI', 'pass'],
      ['infra', 'pass'],
    ]);
    expect(blessing.passed).toBe(true);
    expect(blessing.summary).toBe('blessed (against the champion): 6 passed, 0 failed, 0 skipped');
  });

  it('rejects a candidate when any rule fails and lists the failures in the summary', () => {
    const candidate = evaluation({ auc: 0.68 }, { slices, scores });
    const blessing = evaluateBlessing({ rules, candidate, champion, infra });
    expect(blessing.passed).toBe(false);
    expect(blessing.summary).toBe(
      'not blessed (against the champion): 5 passed, 1 failed, 0 skipped; ' +
        'auc change (absolute): AUC dropped 0.02 > allowed 0.01 (0.7 -> 0.68)',
    );
  });

  it('with no champion, skips comparisons and lets floors and sanity decide', () => {
    const candidate = evaluation({ auc: 0.7 }, { slices, scores });
    const blessing = evaluateBlessing({ rules, candidate, infra });
    expect(blessing.baseline).toBe('none');
    expect(blessing.rules.map((result) => [result.rule, result.verdict, result.reason])).toEqual([
      ['auc floor', 'pass', 'AUC 0.7 >= floor 0.65'],
      ['auc change (absolute)', 'skipped', 'no champion yet'],
      ['auc slice change (absolute)', 'skipped', 'no champion yet'],
      ['finite scores', 'pass', 'no NaN or infinite scores among 2,000 <= allowed 0'],
      ['score PSI', 'skipped', 'no champion yet'],
      ['infra', 'pass', 'loaded and scored a sample in 800 ms <= budget 5,000 ms'],
    ]);
    expect(blessing.passed).toBe(true);
    expect(blessing.summary).toBe(
      'blessed (no champion yet: floors and sanity decide): 3 passed, 0 failed, 3 skipped',
    );
  });

  it('with no champion, still rejects a candidate under its floor', () => {
    const blessing = evaluateBlessing({
      rules,
      candidate: evaluation({ auc: 0.6 }, { slices, scores }),
      infra,
    });
    expect(blessing.passed).toBe(false);
    expect(blessing.baseline).toBe('none');
  });

  it('does not bless when every rule was skipped', () => {
    const blessing = evaluateBlessing({
      rules: [{ kind: 'change', metric: 'auc', mode: 'absolute', maxWorsening: 0.01 }],
      candidate: evaluation({ auc: 0.7 }),
    });
    expect(blessing.passed).toBe(false);
    expect(blessing.summary).toBe(
      'not blessed (no champion yet: floors and sanity decide): no rule could be evaluated, 0 passed, 0 failed, 1 skipped',
    );
  });

  it('is plain JSON: it survives a round trip unchanged', () => {
    const candidate = evaluation({ auc: Number.NaN }, { slices, scores: [0.5, Number.NaN] });
    const blessing = evaluateBlessing({ rules, candidate, champion, infra });
    expect(JSON.parse(JSON.stringify(blessing))).toEqual(blessing);
    expect(blessing.rules.every((result) => result.value === null || Number.isFinite(result.value))).toBe(
      true,
    );
  });
});

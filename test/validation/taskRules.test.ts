import { describe, expect, it } from 'vitest';
import {
  checkRollbackMetricForTask,
  checkRulesForTask,
  defineBlessingRules,
  evaluateBlessing,
  RuleMetricUnavailableError,
  type RuleSpec,
  shouldRollback,
} from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

describe('rules against the pipeline task', () => {
  it('refuses a rule on a metric the task cannot measure, naming the rule, when the rules are defined', () => {
    const rules: RuleSpec[] = [
      { kind: 'ceiling', metric: 'mae', max: 10 },
      { kind: 'floor', metric: 'auc', min: 0.6 },
    ];
    expect(() => defineBlessingRules(rules, { task: 'regression' })).toThrowError(RuleMetricUnavailableError);
    expect(() => defineBlessingRules(rules, { task: 'regression' })).toThrowError(
      "validation rule 1 'auc floor': metric 'auc' is not measured for a regression task: expected one of mae, rmse, r2",
    );
    expect(() => defineBlessingRules(rules.slice(0, 1), { task: 'binary' })).toThrowError(
      "validation rule 0 'mae ceiling': metric 'mae' is not measured for a binary task",
    );
    // Slices hold fewer metrics than the whole holdout: R² per slice is not measured.
    expect(() =>
      checkRulesForTask(
        [
          {
            kind: 'slice',
            metric: 'r2',
            mode: 'absolute',
            maxWorsening: 0.1,
            minCount: 10,
            slices: { keys: ['shop=north'] },
            name: 'r2 per shop',
          },
        ],
        'regression',
      ),
    ).toThrowError(
      "validation rule 0 'r2 per shop': metric 'r2' is not measured for a regression task: expected one of mae, rmse",
    );
    expect(() => checkRollbackMetricForTask(undefined, 'regression')).toThrowError(
      "rollback rule 'auc rollback': metric 'auc' is not measured for a regression task",
    );
    expect(() => checkRollbackMetricForTask('r2', 'regression')).not.toThrow();
  });
});

describe('metrics the holdout cannot define', () => {
  const rules: RuleSpec[] = [
    { kind: 'floor', metric: 'r2', min: 0.5 },
    { kind: 'ceiling', metric: 'mae', max: 10 },
    { kind: 'change', metric: 'r2', mode: 'absolute', maxWorsening: 0.05 },
    { kind: 'finiteScores' },
  ];
  const skipped = { r2: 'zero variance: all 40 labels are 30' };
  const candidate = { ...evaluation({ mae: 4, rmse: 5 }, { scores: [1, 2, 3] }), skipped };

  it('records rules on a skipped metric as skipped with the reason; value rules alone bless a first model', () => {
    const blessing = evaluateBlessing({ rules, candidate });
    expect(blessing.rules.map((r) => [r.rule, r.verdict, r.reason])).toEqual([
      ['r2 floor', 'skipped', 'R² skipped: zero variance: all 40 labels are 30'],
      ['mae ceiling', 'pass', 'MAE 4 <= ceiling 10'],
      ['r2 change (absolute)', 'skipped', 'no champion yet'],
      ['finite scores', 'pass', 'no NaN or infinite scores among 3 <= allowed 0'],
    ]);
    expect(blessing.passed).toBe(true);
    const champion = { ...evaluation({ mae: 5, rmse: 6 }), skipped };
    const compared = evaluateBlessing({ rules, candidate, champion });
    expect(compared.rules[2]).toMatchObject({
      verdict: 'skipped',
      reason: 'R² skipped: zero variance: all 40 labels are 30',
    });
    expect(compared.rules.every((r) => r.value === null || Number.isFinite(r.value))).toBe(true);
  });

  it('does not bless on sanity checks alone when every metric rule was skipped', () => {
    const blessing = evaluateBlessing({ rules: [rules[0] as RuleSpec, { kind: 'finiteScores' }], candidate });
    expect(blessing.passed).toBe(false);
    expect(blessing.summary).toBe(
      'not blessed (no champion yet: floors and sanity decide): no metric rule could be evaluated, 1 passed, 0 failed, 1 skipped; r2 floor: R² skipped: zero variance: all 40 labels are 30',
    );
  });

  it('never rolls back on a skipped metric, and says why', () => {
    const decision = shouldRollback({
      metric: 'r2',
      maxDrop: 0.1,
      champion: { ...evaluation({ mae: 9 }), skipped },
      previous: { ...evaluation({ mae: 4 }), skipped },
    });
    expect(decision).toEqual({
      rollback: false,
      reason: 'R² skipped: zero variance: all 40 labels are 30: keeping the champion',
    });
  });
});

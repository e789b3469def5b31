import { describe, expect, it } from 'vitest';
import {
  defineBlessingRules,
  evaluateBlessing,
  metricDirection,
  RuleSpecError,
  UnknownMetricError,
  validateRuleSpecs,
} from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

function specError(rules: unknown): RuleSpecError {
  try {
    validateRuleSpecs(rules);
  } catch (error) {
    if (error instanceof RuleSpecError) return error;
    throw error;
  }
  throw new Error('expected a RuleSpecError');
}

const floor = { kind: 'floor', metric: 'auc', min: 0.65 };

describe('rule spec validation', () => {
  it('names the rule index and field of an unknown kind', () => {
    const error = specError([floor, { kind: 'minimum', metric: 'auc' }]);
    expect(error.ruleIndex).toBe(1);
    expect(error.field).toBe('kind');
    expect(error.message).toBe(
      "validation rule 1: field 'kind' expected one of floor, ceiling, change, slice, finiteScores, psi, infra, found 'minimum'",
    );
  });

  it('names a missing threshold', () => {
    expect(specError([{ kind: 'floor', metric: 'auc' }]).message).toBe(
      "validation rule 0: field 'min' expected a finite number, found nothing",
    );
    expect(specError([{ kind: 'change', metric: 'auc', mode: 'absolute' }]).message).toBe(
      "validation rule 0: field 'maxWorsening' expected a finite number >= 0, found nothing",
    );
  });

  it('names a negative minimum slice count', () => {
    const error = specError([
      floor,
      {
        kind: 'slice',
        metric: 'auc',
        mode: 'absolute',
        maxWorsening: 0.03,
        minCount: -1,
        slices: { column: 'origin', busiest: 10 },
      },
    ]);
    expect(error.message).toBe("validation rule 1: field 'minCount' expected an integer >= 0, found -1");
  });

  it('names an unknown metric and lists the known ones', () => {
    expect(specError([{ kind: 'floor', metric: 'f1', min: 0.5 }]).message).toBe(
      "validation rule 0: field 'metric' expected a known metric (auc, accuracy, precision, recall, logLoss, brier, rmse, mae, r2, expectedCalibrationError), found 'f1'",
    );
  });

  it('refuses an unknown field rather than ignoring a misspelt threshold', () => {
    expect(specError([{ kind: 'floor', metric: 'auc', minimum: 0.65 }]).message).toBe(
      "validation rule 0: field 'minimum' is not a field of kind 'floor': expected one of kind, name, metric, min",
    );
  });

  it('checks the mode, the slice selection and the PSI bins', () => {
    expect(specError([{ kind: 'change', metric: 'auc', mode: 'percent', maxWorsening: 1 }]).field).toBe(
      'mode',
    );
    const slice = { kind: 'slice', metric: 'auc', mode: 'absolute', maxWorsening: 0.03, minCount: 500 };
    expect(specError([{ ...slice, slices: { column: 'origin', busiest: 0 } }]).message).toBe(
      "validation rule 0: field 'slices.busiest' expected an integer >= 1, found 0",
    );
    expect(specError([{ ...slice, slices: { keys: ['ORD'] } }]).message).toBe(
      "validation rule 0: field 'slices.keys' expected keys of the form 'column=value', found 'ORD'",
    );
    expect(specError([{ kind: 'psi', max: 0.25, bins: 1 }]).message).toBe(
      "validation rule 0: field 'bins' expected an integer >= 2, found 1",
    );
    expect(specError([{ kind: 'infra', budgetMs: 0 }]).message).toBe(
      "validation rule 0: field 'budgetMs' expected a finite number > 0, found 0",
    );
  });

  it('refuses two rules with the same name', () => {
    expect(specError([floor, { ...floor, min: 0.7 }]).message).toBe(
      "validation rule 1: field 'name' expected a name unique among the rules, found 'auc floor', as rule 0 is named",
    );
  });

  it('refuses an empty or non-array rule list', () => {
    expect(() => validateRuleSpecs([])).toThrow(
      'validation rules: expected a non-empty array of rules, found []',
    );
    expect(() => validateRuleSpecs({ kind: 'floor' })).toThrow('expected a non-empty array of rules');
  });

  it('checks rules when a pipeline defines them and when a blessing is evaluated', () => {
    const malformed = [{ kind: 'floor', metric: 'auc', min: '0.65' }] as never;
    expect(() => defineBlessingRules(malformed)).toThrow(RuleSpecError);
    expect(() => evaluateBlessing({ rules: malformed, candidate: evaluation({ auc: 0.7 }) })).toThrow(
      "validation rule 0: field 'min' expected a finite number, found '0.65'",
    );
    const rules = defineBlessingRules([{ kind: 'floor', metric: 'auc', min: 0.65 }]);
    expect(Object.isFrozen(rules)).toBe(true);
  });
});

describe('metric registry', () => {
  it('knows which way each metric improves', () => {
    expect(['auc', 'accuracy', 'precision', 'recall'].map(metricDirection)).toEqual(
      Array(4).fill('higherIsBetter'),
    );
    expect(['logLoss', 'brier', 'rmse', 'mae'].map(metricDirection)).toEqual(Array(4).fill('lowerIsBetter'));
  });

  it('names an unknown metric in its error', () => {
    expect(() => metricDirection('f1')).toThrow(UnknownMetricError);
    expect(() => metricDirection('f1')).toThrow("unknown metric 'f1': expected one of auc, accuracy");
  });
});

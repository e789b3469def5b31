import { describe, expect, it } from 'vitest';
import {
  flightsDelayBlessingRules,
  shouldRollbackFlightsDelay,
} from '../../pipelines/flights-delay/validation.ts';
import { evaluateBlessing, type SliceEvaluation } from '../../src/validation/index.ts';
import { evaluation, spreadScores } from './evaluations.ts';

function originSlices(
  aucs: Record<string, number>,
  counts: Record<string, number>,
): Record<string, SliceEvaluation> {
  return Object.fromEntries(
    Object.entries(aucs).map(([origin, auc]) => [
      `origin=${origin}`,
      { count: counts[origin] ?? 0, metrics: { auc } },
    ]),
  );
}

const counts = { ATL: 950, ORD: 910, DFW: 820, LAX: 610, PHX: 540, DEN: 480, SFO: 420 };
const scores = spreadScores(16_000);
const champion = evaluation(
  { auc: 0.68, logLoss: 0.47 },
  {
    slices: originSlices(
      { ATL: 0.67, ORD: 0.69, DFW: 0.66, LAX: 0.7, PHX: 0.65, DEN: 0.7, SFO: 0.7 },
      counts,
    ),
    scores,
  },
);
const infra = { loaded: true, latencyMs: 1800 };

describe('flights-delay blessing rules', () => {
  it('load as valid rules', () => {
    expect(flightsDelayBlessingRules.map((rule) => rule.kind)).toEqual([
      'floor',
      'change',
      'change',
      'slice',
      'finiteScores',
      'psi',
      'infra',
    ]);
  });

  it('bless a comparable candidate, checking the origins with 500 flights or more', () => {
    const candidate = evaluation(
      { auc: 0.685, logLoss: 0.468 },
      {
        slices: originSlices(
          { ATL: 0.668, ORD: 0.7, DFW: 0.65, LAX: 0.69, PHX: 0.66, DEN: 0.5, SFO: 0.5 },
          counts,
        ),
        scores,
      },
    );
    const blessing = evaluateBlessing({ rules: flightsDelayBlessingRules, candidate, champion, infra });
    const slices = blessing.rules.filter((result) => result.kind === 'slice');
    expect(slices.map((result) => [result.slice, result.verdict])).toEqual([
      ['origin=ATL', 'pass'],
      ['origin=ORD', 'pass'],
      ['origin=DFW', 'pass'],
      ['origin=LAX', 'pass'],
      ['origin=PHX', 'pass'],
      ['origin=DEN', 'skipped'],
      ['origin=SFO', 'skipped'],
    ]);
    expect(blessing.passed).toBe(true);
  });

  it('reject a candidate whose log loss rises more than 2%', () => {
    const candidate = evaluation({ auc: 0.68, logLoss: 0.49 }, { slices: champion.slices, scores });
    const blessing = evaluateBlessing({ rules: flightsDelayBlessingRules, candidate, champion, infra });
    expect(blessing.passed).toBe(false);
    expect(
      blessing.rules.filter((result) => result.verdict === 'fail').map((result) => result.reason),
    ).toEqual(['log loss rose 4.26% > allowed 2% (0.47 -> 0.49)']);
  });

  it('reject a first model under the AUC floor of 0.65', () => {
    const candidate = evaluation({ auc: 0.61, logLoss: 0.49 }, { slices: champion.slices, scores });
    const blessing = evaluateBlessing({ rules: flightsDelayBlessingRules, candidate, infra });
    expect(blessing.baseline).toBe('none');
    expect(blessing.passed).toBe(false);
    expect(blessing.summary).toContain('auc floor: AUC 0.61 < floor 0.65');
  });

  it('roll back a champion 0.02 AUC or more below previous on the newest day', () => {
    expect(
      shouldRollbackFlightsDelay({
        champion: evaluation({ auc: 0.64 }),
        previous: evaluation({ auc: 0.665 }),
      }).rollback,
    ).toBe(true);
    expect(
      shouldRollbackFlightsDelay({
        champion: evaluation({ auc: 0.66 }),
        previous: evaluation({ auc: 0.665 }),
      }).rollback,
    ).toBe(false);
  });
});

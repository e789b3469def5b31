import { describe, expect, it } from 'vitest';
import { shouldRollback, UnknownMetricError } from '../../src/validation/index.ts';
import { evaluation } from './evaluations.ts';

describe('shouldRollback', () => {
  it('rolls back a champion doing worse than previous by more than allowed', () => {
    expect(
      shouldRollback({
        champion: evaluation({ auc: 0.64 }),
        previous: evaluation({ auc: 0.67 }),
        maxDrop: 0.02,
      }),
    ).toEqual({
      rollback: true,
      reason: 'champion AUC 0.03 worse than previous > allowed 0.02 (previous 0.67, champion 0.64)',
    });
  });

  it('keeps a champion within the allowance, or better than previous', () => {
    expect(
      shouldRollback({
        champion: evaluation({ auc: 0.66 }),
        previous: evaluation({ auc: 0.67 }),
        maxDrop: 0.02,
      }),
    ).toEqual({
      rollback: false,
      reason: 'champion AUC 0.01 worse than previous <= allowed 0.02 (previous 0.67, champion 0.66)',
    });
    expect(
      shouldRollback({
        champion: evaluation({ auc: 0.7 }),
        previous: evaluation({ auc: 0.67 }),
        maxDrop: 0.02,
      }),
    ).toEqual({
      rollback: false,
      reason: 'champion AUC no worse than previous (previous 0.67, champion 0.7)',
    });
  });

  it('follows the direction of a lower-better metric', () => {
    const decision = shouldRollback({
      champion: evaluation({ logLoss: 0.53 }),
      previous: evaluation({ logLoss: 0.5 }),
      metric: 'logLoss',
      maxDrop: 0.02,
    });
    expect(decision.rollback).toBe(true);
    expect(decision.reason).toBe(
      'champion log loss 0.03 worse than previous > allowed 0.02 (previous 0.5, champion 0.53)',
    );
    const better = shouldRollback({
      champion: evaluation({ logLoss: 0.45 }),
      previous: evaluation({ logLoss: 0.5 }),
      metric: 'logLoss',
      maxDrop: 0.02,
    });
    expect(better.rollback).toBe(false);
  });

  it('keeps the champion when there is no previous version or the metric cannot be measured', () => {
    expect(shouldRollback({ champion: evaluation({ auc: 0.5 }), maxDrop: 0.02 })).toEqual({
      rollback: false,
      reason: 'no previous version to roll back to',
    });
    expect(
      shouldRollback({
        champion: evaluation({ auc: Number.NaN }),
        previous: evaluation({ auc: 0.67 }),
        maxDrop: 0.02,
      }),
    ).toEqual({
      rollback: false,
      reason:
        'AUC not measurable on the newest labelled day (champion NaN, previous 0.67): keeping the champion',
    });
  });

  it('refuses an unknown metric and a negative allowance', () => {
    const champion = evaluation({ auc: 0.7 });
    expect(() =>
      shouldRollback({ champion, previous: champion, maxDrop: 0.02, metric: 'f1' as never }),
    ).toThrow(UnknownMetricError);
    expect(() => shouldRollback({ champion, previous: champion, maxDrop: -0.1 })).toThrow(
      'shouldRollback: expected maxDrop a finite number >= 0, found -0.1',
    );
  });
});

import {
  defineBlessingRules,
  type EvaluationResult,
  type RollbackDecision,
  type RollbackInput,
  shouldRollback,
} from '../../src/validation/index.ts';

/**
 * Blessing rules of flights-delay: a candidate and the champion are scored on the same holdout,
 * the newest labelled day not used in training (15-17k flights in February 2001). Checked when this module
 * loads, so a malformed rule, or one on a metric a binary model has no value for, fails at deploy time.
 */
export const flightsDelayBlessingRules = defineBlessingRules(
  [
    { kind: 'floor', metric: 'auc', min: 0.65 },
    // On 16k rows with 19% delayed the standard error of AUC is about 0.006: 0.01 is well past noise.
    { kind: 'change', metric: 'auc', mode: 'absolute', maxWorsening: 0.01 },
    { kind: 'change', metric: 'logLoss', mode: 'relative', maxWorsening: 0.02 },
    // Measured on 2001-02-01..14: 4 or 5 origins a day have 500 flights or more (the busiest about
    // 950), 13 to 18 have 300; 19% of flights are delayed. So of the 10 busiest, the smaller ones
    // are recorded as skipped. A 500-row slice (about 95 delayed) already has an AUC standard error
    // near 0.03 (Hanley-McNeil); both models score the same rows, so their difference is steadier.
    {
      kind: 'slice',
      metric: 'auc',
      mode: 'absolute',
      maxWorsening: 0.03,
      minCount: 500,
      slices: { column: 'origin', busiest: 10 },
    },
    { kind: 'finiteScores' },
    // 0.25: the usual line past which a score distribution is read as a different population.
    { kind: 'psi', max: 0.25 },
    // Not measured yet: a fresh worker thread starting the wasm backend, loading the artifact and
    // scoring a sample. Generous on purpose; it catches an artifact that hangs or will not load.
    { kind: 'infra', budgetMs: 10_000 },
  ],
  { task: 'binary' },
);

/**
 * The monitor: the champion and `previous` scored on the newest labelled day. Day-level AUC has
 * a standard error of about 0.006, so a 0.02 drop is not noise.
 */
export const flightsDelayRollback = { metric: 'auc', maxDrop: 0.02 } as const satisfies Pick<
  RollbackInput,
  'metric' | 'maxDrop'
>;

export function shouldRollbackFlightsDelay(evaluations: {
  champion: EvaluationResult;
  previous?: EvaluationResult;
}): RollbackDecision {
  return shouldRollback({ ...flightsDelayRollback, ...evaluations });
}

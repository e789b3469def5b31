import { defineBlessingRules, type RollbackInput } from '../../src/index.ts';

/**
 * Blessing rules of weather-temperature, on the 28-day holdout (56 rows). The high varies by
 * about 8 degrees around its seasonal mean; the climatology baseline misses by about 3.
 */
export const weatherTemperatureBlessingRules = defineBlessingRules(
  [
    // A model that misses the high by 3 degrees on average knows little more than the season.
    { kind: 'ceiling', metric: 'mae', max: 3 },
    { kind: 'ceiling', metric: 'rmse', max: 4 },
    // On 56 rows the MAE moves by about 0.2 degrees from one holdout to the next.
    { kind: 'change', metric: 'mae', mode: 'absolute', maxWorsening: 0.25 },
    { kind: 'finiteScores' },
    { kind: 'infra', budgetMs: 10_000 },
  ],
  { task: 'regression' },
);

/** The monitor: roll back when the champion misses by 0.5 degrees more than `previous`. */
export const weatherTemperatureRollback = { metric: 'mae', maxDrop: 0.5 } as const satisfies Pick<
  RollbackInput,
  'metric' | 'maxDrop'
>;

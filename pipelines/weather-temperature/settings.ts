import type { TrainingSettings } from '../../src/index.ts';

/**
 * Training settings of weather-temperature. A year of days (730 rows, two stations) covers the
 * seasonal cycle; the newest 15% validates and stops training early. The holdout is the 28 days
 * before the night (56 rows): a single day (2 rows) would measure nothing.
 */
export const weatherTemperatureTraining: TrainingSettings = {
  seed: 20120101,
  windowDays: 365,
  epochs: 60,
  batchSize: 32,
  learningRate: 0.01,
  validationFraction: 0.15,
  earlyStopping: { patience: 8, minDelta: 0.001 },
  holdout: { days: 28 },
  loss: 'huber',
  huberDelta: 1,
};

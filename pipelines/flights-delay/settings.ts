import type { TrainingSettings } from '../../src/ml/recipe.ts';

/**
 * Training settings of flights-delay. 28 days is about 460k flights; the newest 15% (about four
 * days) validates. Two epochs usually suffice; early stopping ends a run that stops improving.
 */
export const flightsDelayTraining: TrainingSettings = {
  seed: 20010101,
  windowDays: 28,
  epochs: 6,
  batchSize: 1024,
  learningRate: 0.003,
  validationFraction: 0.15,
  earlyStopping: { patience: 2, minDelta: 0.0005 },
};

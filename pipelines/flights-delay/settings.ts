import type { TrainingSettings } from '../../src/ml/recipe.ts';

/**
 * Training settings of flights-delay. 28 days is about 460k flights; the newest 15% (about four
 * days) validates. The cross embeddings (model.ts) keep improving for about 10 epochs
 * (2001-01-04..31: best epoch 10, validation AUC 0.733); early stopping ends a run that stops
 * improving. About 100 s on wasm with a busy second core.
 */
export const flightsDelayTraining: TrainingSettings = {
  seed: 20010101,
  windowDays: 28,
  epochs: 12,
  batchSize: 1024,
  learningRate: 0.003,
  validationFraction: 0.15,
  earlyStopping: { patience: 2, minDelta: 0.0005 },
};

import type { InputLayout } from '../../src/ml/inputs.ts';
import { seededRandom } from '../../src/ml/random.ts';

/** 2 numeric features and one categorical (cardinality 6) with a learnable signal. */
export const SYNTHETIC_LAYOUT: InputLayout = {
  featureCount: 3,
  numericSlots: [0, 1],
  categorical: [{ name: 'airport', slot: 2, cardinality: 6 }],
};

export function syntheticRows(rowCount: number, seed = 7) {
  const random = seededRandom(seed);
  const features = new Float32Array(rowCount * 3);
  const labels = new Float32Array(rowCount);
  for (let i = 0; i < rowCount; i++) {
    const a = random() * 2 - 1;
    const b = random() * 2 - 1;
    const airport = Math.floor(random() * 6);
    features.set([a, b, airport], i * 3);
    const logit = 2 * a - b + (airport === 3 ? 1.5 : airport === 1 ? -1.5 : 0);
    labels[i] = random() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return { rowCount, features, labels };
}

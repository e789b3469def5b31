/**
 * Seeded randomness for training. `fit`'s own shuffle calls Math.random, so runs could not be
 * repeated; these make the same seed give the same order on every machine.
 */

/** mulberry32: a 32-bit PRNG, small and fast, returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher-Yates permutation of 0..n-1. */
export function seededPermutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i] as number;
    order[i] = order[j] as number;
    order[j] = swap;
  }
  return order;
}

/** A distinct, reproducible seed per use (layer initialiser, epoch shuffle) from one run seed. */
export function deriveSeed(seed: number, stream: number): number {
  return seededRandom((seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0)() * 2 ** 31;
}

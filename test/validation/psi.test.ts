import { describe, expect, it } from 'vitest';
import { PSI_EMPTY_BIN_PROPORTION, populationStabilityIndex } from '../../src/validation/index.ts';
import { spreadScores } from './evaluations.ts';

// Champion 0.1..0.8: quartile edges at sorted[2], [4], [6] = 0.3, 0.5, 0.7, two scores a bin.
const champion = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);

describe('population stability index', () => {
  it('bins by champion quantiles and matches a hand-computed value', () => {
    // Candidate bins: 4, 2, 1, 1 of 8 -> 0.5, 0.25, 0.125, 0.125 against 0.25 each.
    const candidate = Float32Array.from([0.05, 0.1, 0.15, 0.2, 0.35, 0.4, 0.6, 0.9]);
    const result = populationStabilityIndex(champion, candidate, 4);
    expect(result.edges).toEqual([0.3, 0.5, 0.7].map(Math.fround));
    expect(result.referenceProportions).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(result.candidateProportions).toEqual([0.5, 0.25, 0.125, 0.125]);
    // (0.5 - 0.25) ln 2 + 0 + 2 (0.125 - 0.25) ln(1/2) = 0.5 ln 2
    expect(result.psi).toBeCloseTo(0.5 * Math.LN2, 12);
  });

  it('is exactly 0 for identical distributions', () => {
    const scores = spreadScores(10_000);
    expect(populationStabilityIndex(scores, scores).psi).toBe(0);
    expect(populationStabilityIndex(scores, scores.slice().reverse()).psi).toBe(0);
  });

  it('smooths an empty bin with a small proportion instead of dividing by zero', () => {
    const candidate = Float32Array.from([0.1, 0.1, 0.2, 0.2]);
    const result = populationStabilityIndex(champion, candidate, 4);
    expect(result.candidateProportions).toEqual([1, 0, 0, 0]);
    const epsilon = PSI_EMPTY_BIN_PROPORTION;
    const expected = (1 - 0.25) * Math.log(1 / 0.25) + 3 * (epsilon - 0.25) * Math.log(epsilon / 0.25);
    expect(result.psi).toBeCloseTo(expected, 12);
    expect(Number.isFinite(result.psi)).toBe(true);
  });

  it('drops edges that tie, so a coarse champion gives fewer bins', () => {
    const coarse = Float32Array.from([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.4, 0.6]);
    const result = populationStabilityIndex(coarse, coarse, 4);
    // Quartile positions 2, 4, 6 hold 0.2, 0.2, 0.4.
    expect(result.edges).toEqual([0.2, 0.4].map(Math.fround));
    expect(result.referenceProportions).toEqual([0, 0.75, 0.25]);
    expect(result.psi).toBe(0);
  });

  it('leaves out non-finite scores and counts them', () => {
    const candidate = Float32Array.from([
      0.1,
      0.2,
      0.3,
      0.4,
      0.5,
      0.6,
      0.7,
      0.8,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]);
    const result = populationStabilityIndex(champion, candidate, 4);
    expect(result.psi).toBe(0);
    expect(result.nonFiniteCandidate).toBe(2);
    expect(result.nonFiniteReference).toBe(0);
  });

  it('refuses fewer than two bins and sides without finite scores', () => {
    expect(() => populationStabilityIndex(champion, champion, 1)).toThrow(
      'PSI: expected an integer number of bins >= 2, found 1',
    );
    expect(() => populationStabilityIndex(champion, Float32Array.from([Number.NaN]))).toThrow(
      'PSI: expected finite scores on both sides, found 8 reference and 0 candidate',
    );
  });
});

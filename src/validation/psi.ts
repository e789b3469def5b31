/**
 * Population stability index between a reference (champion) and a new (candidate) score
 * distribution: PSI = sum over bins of (new - ref) * ln(new / ref), with bin proportions.
 * Common reading: < 0.1 stable, 0.1 to 0.25 a shift worth a look, > 0.25 a different population.
 *
 * Bins are quantiles of the reference scores (deciles by default), not fixed widths on [0, 1]:
 * a delay model's scores sit mostly between 0.1 and 0.3, where fixed tenths would put nearly
 * everything in two bins and hide a shift. Quantile bins give every bin about the same reference
 * mass, and work for scores outside [0, 1] (regression) as well. Ties in the reference (a coarse
 * model) can make edges coincide; duplicates are dropped, so there may be fewer bins than asked.
 *
 * An empty bin would make ln(new / ref) infinite: proportions below `PSI_EMPTY_BIN_PROPORTION`
 * (empty bins, in practice) are raised to it, a common choice in credit scoring where PSI comes
 * from, so one empty bin adds a large but finite term.
 *
 * Non-finite scores are left out here; the finite-scores rule counts them.
 */

export const PSI_EMPTY_BIN_PROPORTION = 1e-4;
export const PSI_DEFAULT_BINS = 10;

export interface PsiResult {
  psi: number;
  /** Upper-exclusive inner edges; bin i is [edges[i-1], edges[i]), the first and last are open. */
  edges: number[];
  referenceProportions: number[];
  candidateProportions: number[];
  /** Non-finite scores left out, per side. */
  nonFiniteReference: number;
  nonFiniteCandidate: number;
}

function finiteSorted(scores: Float32Array): { sorted: Float32Array; nonFinite: number } {
  const finite = scores.filter((score) => Number.isFinite(score));
  return { sorted: finite.sort(), nonFinite: scores.length - finite.length };
}

/** Reference quantiles at k/bins for k = 1..bins-1, deduplicated. */
export function quantileEdges(sortedReference: Float32Array, bins: number): number[] {
  const edges: number[] = [];
  const n = sortedReference.length;
  for (let k = 1; k < bins; k++) {
    const edge = sortedReference[Math.floor((k * n) / bins)] as number;
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  return edges;
}

/** Index of the first edge greater than `score`: the bin that holds it. */
function binOf(edges: readonly number[], score: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((edges[middle] as number) <= score) low = middle + 1;
    else high = middle;
  }
  return low;
}

function binProportions(sortedScores: Float32Array, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const score of sortedScores) {
    const bin = binOf(edges, score);
    counts[bin] = (counts[bin] as number) + 1;
  }
  return counts.map((count) => count / sortedScores.length);
}

/** Throws when either side has no finite score: there is no distribution to compare. */
export function populationStabilityIndex(
  reference: Float32Array,
  candidate: Float32Array,
  bins = PSI_DEFAULT_BINS,
): PsiResult {
  if (!Number.isInteger(bins) || bins < 2) {
    throw new RangeError(`PSI: expected an integer number of bins >= 2, found ${bins}`);
  }
  const ref = finiteSorted(reference);
  const cand = finiteSorted(candidate);
  if (ref.sorted.length === 0 || cand.sorted.length === 0) {
    throw new RangeError(
      `PSI: expected finite scores on both sides, found ${ref.sorted.length} reference and ${cand.sorted.length} candidate`,
    );
  }
  const edges = quantileEdges(ref.sorted, bins);
  const referenceProportions = binProportions(ref.sorted, edges);
  const candidateProportions = binProportions(cand.sorted, edges);
  let psi = 0;
  for (let bin = 0; bin < referenceProportions.length; bin++) {
    const expected = Math.max(referenceProportions[bin] as number, PSI_EMPTY_BIN_PROPORTION);
    const actual = Math.max(candidateProportions[bin] as number, PSI_EMPTY_BIN_PROPORTION);
    psi += (actual - expected) * Math.log(actual / expected);
  }
  return {
    psi,
    edges,
    referenceProportions,
    candidateProportions,
    nonFiniteReference: ref.nonFinite,
    nonFiniteCandidate: cand.nonFinite,
  };
}

import type { EvaluationResult, SliceEvaluation } from '../../src/validation/index.ts';

/** A holdout evaluation with only what a test needs. */
export function evaluation(
  metrics: Record<string, number>,
  options: { slices?: Record<string, SliceEvaluation>; scores?: number[] | Float32Array } = {},
): EvaluationResult {
  const result: EvaluationResult = { metrics, slices: options.slices ?? {} };
  if (options.scores !== undefined) result.scores = Float32Array.from(options.scores);
  return result;
}

/** Evenly spread scores in (0, 1): a well-behaved score distribution. */
export function spreadScores(count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => (i + 0.5) / count);
}

import { DataError } from '../errors.ts';
import { cycleBucket, type SlotDescription } from './inputs.ts';
import type { GroupRateBaselineSpec } from './recipe.ts';

/** The columnar rows a baseline reads (the data plane's FeatureBatch, kept structural). */
export interface BaselineRows {
  rowCount: number;
  featureCount: number;
  features: Float32Array;
  labels?: Float32Array | undefined;
  slices: readonly { column: string; values: string[]; codes: Int32Array }[];
}

/**
 * A historical-mean table: each (slice value, bucket) group's mean label on the training rows,
 * which is the positive rate for a binary task and the mean target for a regression. A holdout
 * row of an unseen group gets its slice value's mean, then the overall mean. Means are raw (no
 * smoothing), as the issue defines the baseline: a binary group seen once scores 0 or 1, which
 * is what a lookup table of past rates does.
 */
export function groupRateScores(
  spec: GroupRateBaselineSpec,
  slots: readonly SlotDescription[],
  training: BaselineRows,
  holdout: BaselineRows,
): Float32Array {
  const { buckets } = spec.bucket;
  const sinSlot = slots.findIndex((s) => s.name === `${spec.bucket.feature}_sin`);
  const cosSlot = slots.findIndex((s) => s.name === `${spec.bucket.feature}_cos`);
  if (sinSlot < 0 || cosSlot < 0) {
    throw new DataError(`baseline: expected a cyclic feature '${spec.bucket.feature}' in the fitted slots`);
  }
  const keysOf = (rows: BaselineRows) => {
    const slice = rows.slices.find((s) => s.column === spec.slice);
    if (!slice) throw new DataError(`baseline: expected slice column '${spec.slice}' in the feature spec`);
    const k = rows.featureCount;
    const bucketOf = (row: number) =>
      cycleBucket(
        rows.features[row * k + sinSlot] as number,
        rows.features[row * k + cosSlot] as number,
        buckets,
      );
    return { slice, bucketOf };
  };
  if (training.labels === undefined) throw new DataError('baseline: expected labels on the training rows');

  // Counts per slice value (by string: the two reads code their values independently).
  const train = keysOf(training);
  const valueCount = train.slice.values.length;
  const groupRows = new Float64Array((valueCount + 1) * buckets);
  const groupPositives = new Float64Array((valueCount + 1) * buckets);
  const valueRows = new Float64Array(valueCount + 1);
  const valuePositives = new Float64Array(valueCount + 1);
  let positives = 0;
  for (let row = 0; row < training.rowCount; row++) {
    const value = (train.slice.codes[row] as number) + 1; // null (-1) is its own value, 0
    const label = training.labels[row] as number;
    const group = value * buckets + train.bucketOf(row);
    groupRows[group] = (groupRows[group] as number) + 1;
    groupPositives[group] = (groupPositives[group] as number) + label;
    valueRows[value] = (valueRows[value] as number) + 1;
    valuePositives[value] = (valuePositives[value] as number) + label;
    positives += label;
  }
  const overall = training.rowCount > 0 ? positives / training.rowCount : 0;
  const trainIndex = new Map(train.slice.values.map((value, index) => [value, index + 1]));

  const scored = keysOf(holdout);
  const scores = new Float32Array(holdout.rowCount);
  for (let row = 0; row < holdout.rowCount; row++) {
    const code = scored.slice.codes[row] as number;
    const value = code < 0 ? 0 : trainIndex.get(scored.slice.values[code] as string);
    if (value === undefined) {
      scores[row] = overall;
      continue;
    }
    const group = value * buckets + scored.bucketOf(row);
    const n = groupRows[group] as number;
    if (n > 0) scores[row] = (groupPositives[group] as number) / n;
    else {
      const m = valueRows[value] as number;
      scores[row] = m > 0 ? (valuePositives[value] as number) / m : overall;
    }
  }
  return scores;
}

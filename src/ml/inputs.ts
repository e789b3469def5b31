import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '../errors.ts';

/**
 * How a row-major feature vector of k floats feeds a model: the numeric slots go in as one
 * [n, numeric] tensor, each categorical slot as its own [n, 1] int32 index tensor (for an
 * Embedding). Stored in the artifact's metadata, so a scoring worker needs no pipeline code.
 */
export interface InputLayout {
  featureCount: number;
  /** Slot positions of the numeric (and cyclic) floats, in order. */
  numericSlots: number[];
  categorical: CategoricalInput[];
}

export interface CategoricalInput {
  name: string;
  slot: number;
  /** Indices are in [0, cardinality); 0 is the out-of-vocabulary bucket. */
  cardinality: number;
}

/** The slot shape the data plane's fitted features expose (kept structural: ml knows no data module). */
export interface SlotDescription {
  name: string;
  /** The feature a slot belongs to (a cyclic feature fills two slots). */
  feature?: string;
  kind: string;
  cardinality?: number;
}

/** `ignore` names features the model leaves out (their slots stay in the vector, unread). */
export function inputLayoutFromSlots(
  slots: readonly SlotDescription[],
  ignore: readonly string[] = [],
): InputLayout {
  const layout: InputLayout = { featureCount: slots.length, numericSlots: [], categorical: [] };
  slots.forEach((slot, index) => {
    if (ignore.includes(slot.feature ?? slot.name)) return;
    if (slot.kind === 'categorical') {
      if (slot.cardinality === undefined || slot.cardinality < 1) {
        throw new DataError(`feature slot ${slot.name}: expected a categorical cardinality, found none`);
      }
      layout.categorical.push({ name: slot.name, slot: index, cardinality: slot.cardinality });
    } else {
      layout.numericSlots.push(index);
    }
  });
  return layout;
}

/**
 * Builds the model's input tensors for rows [from, to), optionally through an index (a
 * shuffled order). The caller disposes them. A categorical value outside [0, cardinality) is an
 * error: wasm's gather would read another row's embedding silently.
 */
export function modelInputs(
  features: Float32Array,
  layout: InputLayout,
  from: number,
  to: number,
  order?: Uint32Array,
): tf.Tensor[] {
  const rows = to - from;
  const k = layout.featureCount;
  const numericCount = layout.numericSlots.length;
  const numeric = new Float32Array(rows * numericCount);
  const categorical = layout.categorical.map(() => new Int32Array(rows));
  for (let r = 0; r < rows; r++) {
    const source = order ? (order[from + r] as number) : from + r;
    const base = source * k;
    for (let j = 0; j < numericCount; j++) {
      numeric[r * numericCount + j] = features[base + (layout.numericSlots[j] as number)] as number;
    }
    for (let c = 0; c < layout.categorical.length; c++) {
      const input = layout.categorical[c] as CategoricalInput;
      const value = features[base + input.slot] as number;
      if (!(Number.isInteger(value) && value >= 0 && value < input.cardinality)) {
        throw new DataError(
          `feature ${input.name} at row ${source}: expected an index in [0, ${input.cardinality}), found ${value}`,
        );
      }
      (categorical[c] as Int32Array)[r] = value;
    }
  }
  const tensors: tf.Tensor[] = [];
  if (numericCount > 0) tensors.push(tf.tensor2d(numeric, [rows, numericCount]));
  for (const indices of categorical) tensors.push(tf.tensor2d(indices, [rows, 1], 'int32'));
  return tensors;
}

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
  /** The slot holding the index; -1 for a derived input (see `derived`). */
  slot: number;
  /** Indices are in [0, cardinality); 0 is the out-of-vocabulary bucket. */
  cardinality: number;
  /** Computed per row from other slots instead of read from one; recorded in the artifact. */
  derived?: DerivedIndex;
}

/**
 * An index computed from the vector, so a model can embed what the data plane encodes another
 * way. `cycleBucket`: the bucket of a cyclic feature's position (hour of day 0..23 from its
 * sin and cos slots). `cross`: the exact product of earlier categorical inputs (mixed radix:
 * origin x hour has 101 x 24 cells), so each cell gets its own embedding, what a per-(origin,
 * hour) delay-rate table knows.
 */
export type DerivedIndex =
  | { kind: 'cycleBucket'; sinSlot: number; cosSlot: number; buckets: number }
  | { kind: 'cross'; parts: number[] };

/** How a recipe asks for derived inputs, by feature and input names. */
export type DerivedInputSpec =
  | { name: string; kind: 'cycleBucket'; feature: string; buckets: number }
  | { name: string; kind: 'cross'; inputs: string[] };

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
  derived: readonly DerivedInputSpec[] = [],
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
  for (const spec of derived) {
    if (spec.kind === 'cycleBucket') {
      const sinSlot = slots.findIndex((s) => s.name === `${spec.feature}_sin`);
      const cosSlot = slots.findIndex((s) => s.name === `${spec.feature}_cos`);
      if (sinSlot < 0 || cosSlot < 0 || !(Number.isInteger(spec.buckets) && spec.buckets >= 2)) {
        throw new DataError(
          `derived input ${spec.name}: expected a cyclic feature '${spec.feature}' and buckets >= 2, found slots ${slots.map((s) => s.name).join(', ')}`,
        );
      }
      layout.categorical.push({
        name: spec.name,
        slot: -1,
        cardinality: spec.buckets,
        derived: { kind: 'cycleBucket', sinSlot, cosSlot, buckets: spec.buckets },
      });
      continue;
    }
    const parts = spec.inputs.map((name) => layout.categorical.findIndex((c) => c.name === name));
    if (parts.length < 2 || parts.some((p) => p < 0)) {
      throw new DataError(
        `derived input ${spec.name}: expected two or more categorical inputs among ${layout.categorical.map((c) => c.name).join(', ')}, found ${spec.inputs.join(', ')}`,
      );
    }
    const cardinality = parts.reduce(
      (product, p) => product * (layout.categorical[p] as CategoricalInput).cardinality,
      1,
    );
    layout.categorical.push({ name: spec.name, slot: -1, cardinality, derived: { kind: 'cross', parts } });
  }
  return layout;
}

/** Bucket of a cycle position from its sin and cos, in [0, buckets). */
export function cycleBucket(sin: number, cos: number, buckets: number): number {
  const turn = Math.atan2(sin, cos) / (2 * Math.PI);
  // Float32 sin/cos put 14:00:00 up to 4e-7 hour off; a departure is never within 1e-4 bucket
  // (0.36 s) before the next bucket, so the nudge only fixes those exact boundaries.
  const bucket = Math.floor((turn < 0 ? turn + 1 : turn) * buckets + 1e-4);
  return bucket >= buckets ? bucket - buckets : bucket;
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
      const derived = input.derived;
      let value: number;
      if (derived === undefined) value = features[base + input.slot] as number;
      else if (derived.kind === 'cycleBucket') {
        value = cycleBucket(
          features[base + derived.sinSlot] as number,
          features[base + derived.cosSlot] as number,
          derived.buckets,
        );
      } else {
        // Parts are earlier inputs, already checked and written for this row.
        value = 0;
        for (const part of derived.parts) {
          value =
            value * (layout.categorical[part] as CategoricalInput).cardinality +
            ((categorical[part] as Int32Array)[r] as number);
        }
      }
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

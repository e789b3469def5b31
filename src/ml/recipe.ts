import type * as tfl from '@tensorflow/tfjs-layers';
import type { DerivedInputSpec, InputLayout } from './inputs.ts';
import type { TrainingTask } from './train.ts';

/** Training settings a pipeline declares; the CLI and the DAG may override some per run. */
export interface TrainingSettings {
  seed: number;
  /** Days of data before the logical date used for training (train + validation). */
  windowDays: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Newest fraction of the window held out, in time order. */
  validationFraction: number;
  earlyStopping: { patience: number; minDelta?: number };
}

/** A pipeline's model: how to build it from the fitted features' layout, and how to train it. */
export interface ModelRecipe {
  /** The registry's model name; by convention the pipeline's name. */
  name: string;
  /** The dataset folder under the data root its partitions come from, e.g. `flights`. */
  dataset: string;
  task: TrainingTask;
  /** Features of the spec this model does not read (the vector keeps their slots). */
  ignoreFeatures?: string[];
  /** Categorical inputs computed from the vector (hour buckets, crosses); see inputs.ts. */
  derivedInputs?: DerivedInputSpec[];
  /**
   * The baseline a candidate is reported against on the holdout week: each group's positive
   * rate on the training window, a group being a slice column's value and a cyclic feature's
   * bucket (origin and departure hour), falling back to the slice value's rate, then the
   * window's. Binary tasks only.
   */
  baseline?: GroupRateBaselineSpec;
  build(layout: InputLayout, seed: number): tfl.LayersModel;
  training: TrainingSettings;
}

export interface GroupRateBaselineSpec {
  /** A slice column of the feature spec (its rows' values come with every read). */
  slice: string;
  /** A cyclic feature and how many buckets its cycle is cut into (24 for the hour of day). */
  bucket: { feature: string; buckets: number };
}

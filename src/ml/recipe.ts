import type * as tfl from '@tensorflow/tfjs-layers';
import type { InputLayout } from './inputs.ts';
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
  build(layout: InputLayout, seed: number): tfl.LayersModel;
  training: TrainingSettings;
}

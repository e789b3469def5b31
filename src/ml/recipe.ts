import type * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '../errors.ts';
import { checkHoldoutSpec, type HoldoutSpec } from './holdout.ts';
import type { DerivedInputSpec, InputLayout } from './inputs.ts';
import { checkRegressionObjective, type RegressionLoss, type TargetTransform } from './target.ts';
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
  /**
   * The newest labelled days not used in training, on which `train`, validation and the monitor
   * measure models: `{ days: N }` (the N days before the logical date), or `{ minRows: N }` (from
   * the day before, walking back day by day until the days hold at least N rows). The training
   * window ends the day before the holdout starts. Default `{ days: 1 }`.
   */
  holdout?: HoldoutSpec;
  /** Regression only: the loss fitted; default `mse`. */
  loss?: RegressionLoss;
  /** Regression with loss `huber` only: quadratic within delta of the (transformed) target; default 1. */
  huberDelta?: number;
  /**
   * Regression only: fit the model on `log1p(label)` (labels must be > -1); every scorer inverts
   * it with `expm1`, recorded in the artifact, so predictions stay in the label's units.
   */
  targetTransform?: TargetTransform;
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
   * The baseline a candidate is reported against on the holdout: each group's mean label on the
   * training window (the positive rate for a binary task, the mean target for a regression), a
   * group being a slice column's value and a cyclic feature's bucket (origin and departure hour),
   * falling back to the slice value's mean, then the window's.
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

/**
 * Checks the settings a run trains with (the pipeline's, with overrides): the task, the holdout,
 * and the regression objective. Throws ConfigError naming `where` and the field.
 */
export function checkTrainingSettings(where: string, settings: TrainingSettings, task: TrainingTask): void {
  if (task !== 'binary' && task !== 'regression') {
    throw new ConfigError(`${where}: task expected 'binary' or 'regression', found ${JSON.stringify(task)}`);
  }
  if (settings.holdout !== undefined) checkHoldoutSpec(where, settings.holdout);
  checkRegressionObjective(where, settings, task);
}

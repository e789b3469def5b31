/**
 * The pipeline API: what a user's pipeline folder (`pipelines/<name>/features.ts`, `model.ts`,
 * `validation.ts`) and DAG file (`dags/<id>.ts`) import. docs/pipelines.md documents every
 * field. Everything else under src/ is the program's own and may change between versions.
 */

// DAG files: a schedule and a graph of tasks.
export { defineDag } from './dag/index.ts';
export type { DagDefinition, JsonObject, TaskContext, TaskDefinition } from './dag/types.ts';
// Datasets: partitions written by code that produces data itself.
// Feature specs.
export {
  type CategoricalFeature,
  type CyclicFeature,
  type Day,
  defineFeatures,
  type FeatureDefinition,
  type FeatureSpec,
  type LabelDefinition,
  listPartitions,
  type NumericFeature,
  type Partition,
  type PartitionWriteResult,
  partitionDir,
  type WritePartitionRequest,
  withDuckSession,
  writePartition,
} from './data/index.ts';
// Model recipes.
export type { DerivedInputSpec, InputLayout } from './ml/inputs.ts';
export { buildTabularModel, type TabularModelOptions } from './ml/models.ts';
export type { GroupRateBaselineSpec, ModelRecipe, TrainingSettings } from './ml/recipe.ts';
// The nightly flow.
export { type NightlyOptions, nightlyTasks } from './tasks/index.ts';
// Blessing and rollback rules.
export {
  defineBlessingRules,
  type MetricName,
  type RollbackInput,
  type RuleSpec,
} from './validation/index.ts';

import path from 'node:path';
import type { NightshiftConfig } from '../config.ts';
import type { JsonObject, TaskContext, TaskDefinition } from '../dag/types.ts';
import { addDays, type Day, type Partition, readWindow } from '../data/index.ts';
import { readPartition } from '../data/partitions.ts';
import { DataError } from '../errors.ts';
import { DEFAULT_HOLDOUT, type HoldoutSpec, holdoutEndingOn } from '../ml/holdout.ts';
import { loadPipeline, type PipelineDefinition } from '../ml/pipeline.ts';
import { checkTrainingSettings, type TrainingSettings } from '../ml/recipe.ts';
import {
  checkRollbackMetricForTask,
  checkRulesForTask,
  type RollbackInput,
  type RuleSpec,
  validateRuleSpecs,
} from '../validation/index.ts';
import { ingestTask } from './ingest.ts';
import { monitorTask } from './monitor.ts';
import { keepTask, promoteTask } from './promote.ts';
import { scoreShardTask, scoreTask } from './score.ts';
import { trainTask } from './train.ts';
import { validateTask } from './validate.ts';

/**
 * The nightly flow of one pipeline as a list of tasks: ingest, monitor, score, train,
 * validate, then promote or keep. A DAG file spreads it into `defineDag({ tasks })` and stays
 * short and declarative.
 *
 * For logical date D: day D is ingested and scored with the champion; the holdout for
 * validation and the monitor is the pipeline's (`training.holdout`, default `{ days: 1 }`: D-1),
 * the newest labelled days ending on D-1; the candidate trains on the `windowDays` days before
 * the holdout's first day.
 */
export interface NightlyOptions {
  /** Folder name under `pipelinesDir`. */
  pipeline: string;
  /** Folder of pipeline folders (default: `pipelines` under the working directory). */
  pipelinesDir?: string;
  blessingRules: readonly RuleSpec[];
  /** The monitor's rule: how much worse than `previous` the champion may do on fresh labels. */
  rollback: Pick<RollbackInput, 'metric' | 'maxDrop'>;
  /** Training window in days (default: the pipeline's `windowDays`, else 28). */
  windowDays?: number;
  /**
   * Make day D's partition available (and the days the night reads). Default: the flights
   * dataset is prepared from its source file; any other dataset's partitions are checked, and
   * missing days fail the task with a retriable error.
   */
  ingest?: (context: TaskContext) => Promise<JsonObject>;
  /** Scoring worker threads (default: one per core). */
  scoringWorkers?: number;
  /** Training overrides (epochs, seed, holdout, loss) for demos and tests. */
  trainingOverrides?: Partial<TrainingSettings>;
}

export interface NightlyPlan {
  pipeline: PipelineDefinition;
  options: NightlyOptions;
  windowDays: number;
  /** The pipeline's holdout with the overrides applied. */
  holdoutSpec: HoldoutSpec;
  datasetDir(config: NightshiftConfig): string;
  /**
   * The holdout of the night of `ds`: the newest labelled days ending on ds-1, as the spec asks.
   * A missing day is a retriable DataError naming it (data may still arrive).
   */
  holdout(config: NightshiftConfig, ds: Day): Promise<Partition[]>;
  /** The training window: the `windowDays` days before the holdout's first day. */
  trainingWindow(holdout: readonly Partition[]): { from: Day; to: Day };
  /** Labelled partitions from `from` to `to`, refusing a gap: a missing day is named. */
  partitions(config: NightshiftConfig, from: string, to: string): Promise<Partition[]>;
}

const pipelines = new Map<string, Promise<PipelineDefinition>>();

/**
 * Checks what can be checked against the pipeline: its settings with the overrides, and that the
 * blessing and rollback rules name metrics its task measures. A ConfigError naming the rule.
 */
function checkAgainstPipeline(options: NightlyOptions, pipeline: PipelineDefinition): void {
  const where = `nightlyTasks(${options.pipeline})`;
  checkTrainingSettings(
    `${where}: training settings with trainingOverrides`,
    { ...pipeline.model.training, ...options.trainingOverrides },
    pipeline.model.task,
  );
  checkRulesForTask(options.blessingRules, pipeline.model.task);
  checkRollbackMetricForTask(options.rollback.metric, pipeline.model.task);
}

export function planNightly(options: NightlyOptions): () => Promise<NightlyPlan> {
  let planned: Promise<NightlyPlan> | undefined;
  return () => {
    if (planned === undefined) {
      const building = buildPlan(options);
      // A failure is not kept: the next task that asks tries again (and reports it).
      building.catch(() => {
        if (planned === building) planned = undefined;
      });
      planned = building;
    }
    return planned;
  };
}

async function buildPlan(options: NightlyOptions): Promise<NightlyPlan> {
  const key = `${options.pipelinesDir ?? ''}\0${options.pipeline}`;
  let pipeline = pipelines.get(key);
  if (!pipeline) {
    pipeline = loadPipeline(options.pipeline, options.pipelinesDir);
    pipelines.set(key, pipeline);
    pipeline.catch(() => pipelines.delete(key));
  }
  const loaded = await pipeline;
  checkAgainstPipeline(options, loaded);
  const windowDays =
    options.trainingOverrides?.windowDays ?? options.windowDays ?? loaded.model.training.windowDays ?? 28;
  const holdoutSpec = options.trainingOverrides?.holdout ?? loaded.model.training.holdout ?? DEFAULT_HOLDOUT;
  const datasetDir = (config: NightshiftConfig) => path.join(config.dataDir, loaded.model.dataset);
  return {
    pipeline: loaded,
    options,
    windowDays,
    holdoutSpec,
    datasetDir,
    holdout: (config, ds) =>
      holdoutEndingOn(
        holdoutSpec,
        addDays(ds, -1),
        (day) => readPartition(datasetDir(config), day),
        loaded.model.dataset,
      ),
    trainingWindow(holdout) {
      const first = holdout[0];
      if (first === undefined) throw new DataError(`${loaded.model.dataset}: expected a holdout, found none`);
      const to = addDays(first.date, -1);
      return { from: addDays(to, -(windowDays - 1)), to };
    },
    async partitions(config, from, to) {
      const window = await readWindow(datasetDir(config), from, to, { what: loaded.model.dataset });
      return window.partitions;
    },
  };
}

/**
 * The nightly tasks of a pipeline. The rules' shapes are checked here; the pipeline (its
 * modules, its settings, and the rules' metrics against its task) when the DAG file loads,
 * through the ingest task's `check`, so that `dags list` and the scheduler name a rule the task
 * cannot measure before any night. Code that builds the tasks without loading a DAG file gets
 * the same error from the night's first task.
 */
export function nightlyTasks(options: NightlyOptions): TaskDefinition[] {
  validateRuleSpecs(options.blessingRules);
  const plan = planNightly(options);
  return [
    {
      id: 'ingest',
      retries: 2,
      retryDelayMs: 5_000,
      run: ingestTask(plan),
      check: async () => {
        await plan();
      },
    },
    { id: 'monitor', deps: ['ingest'], run: monitorTask(plan) },
    {
      id: 'score',
      deps: ['monitor'],
      triggerRule: 'none_failed',
      retries: 1,
      run: scoreTask(plan),
      shard: scoreShardTask,
    },
    { id: 'train', deps: ['score'], triggerRule: 'none_failed', run: trainTask(plan) },
    // Retried once: a store error looking up the champion fails it (never "no champion").
    { id: 'validate', deps: ['train'], retries: 1, retryDelayMs: 5_000, run: validateTask(plan) },
    { id: 'promote', deps: ['validate'], run: promoteTask(plan) },
    { id: 'keep', deps: ['validate'], run: keepTask(plan) },
  ];
}

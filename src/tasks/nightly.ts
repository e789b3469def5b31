import path from 'node:path';
import type { NightshiftConfig } from '../config.ts';
import type { JsonObject, TaskContext, TaskDefinition } from '../dag/types.ts';
import { type Partition, readWindow } from '../data/index.ts';
import { loadPipeline, type PipelineDefinition } from '../ml/pipeline.ts';
import type { RollbackInput, RuleSpec } from '../validation/index.ts';
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
 * For logical date D: day D is ingested and scored with the champion; the newest labelled day
 * not used in training is D-1 (the holdout for validation and the monitor); the candidate
 * trains on the `windowDays` days before it.
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
  /** Training overrides (epochs, seed) for demos and tests. */
  trainingOverrides?: Record<string, number>;
}

export interface NightlyPlan {
  pipeline: PipelineDefinition;
  options: NightlyOptions;
  windowDays: number;
  datasetDir(config: NightshiftConfig): string;
  /** Labelled partitions from `from` to `to`, refusing a gap: a missing day is named. */
  partitions(config: NightshiftConfig, from: string, to: string): Promise<Partition[]>;
}

const pipelines = new Map<string, Promise<PipelineDefinition>>();

export function planNightly(options: NightlyOptions): () => Promise<NightlyPlan> {
  return async () => {
    const pipelinesDir = path.resolve(options.pipelinesDir ?? 'pipelines');
    const key = path.join(pipelinesDir, options.pipeline);
    let pipeline = pipelines.get(key);
    if (!pipeline) {
      pipeline = loadPipeline(options.pipeline, pipelinesDir);
      pipelines.set(key, pipeline);
    }
    const loaded = await pipeline;
    const windowDays = options.windowDays ?? loaded.model.training.windowDays ?? 28;
    const datasetDir = (config: NightshiftConfig) => path.join(config.dataDir, loaded.model.dataset);
    return {
      pipeline: loaded,
      options,
      windowDays,
      datasetDir,
      async partitions(config, from, to) {
        const window = await readWindow(datasetDir(config), from, to, { what: loaded.model.dataset });
        return window.partitions;
      },
    };
  };
}

export function nightlyTasks(options: NightlyOptions): TaskDefinition[] {
  const plan = planNightly(options);
  return [
    { id: 'ingest', retries: 2, retryDelayMs: 5_000, run: ingestTask(plan) },
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
    { id: 'validate', deps: ['train'], run: validateTask(plan) },
    { id: 'promote', deps: ['validate'], run: promoteTask(plan) },
    { id: 'keep', deps: ['validate'], run: keepTask(plan) },
  ];
}

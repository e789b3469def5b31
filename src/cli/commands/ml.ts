import path from 'node:path';
import type { Command } from 'commander';
import { addDays, type Partition, parseDay, readWindow, resolveParquetInputs } from '../../data/index.ts';
import { readPartition } from '../../data/partitions.ts';
import { UsageError } from '../../errors.ts';
import { loadModelArtifact } from '../../ml/artifacts.ts';
import { initBackend } from '../../ml/backend.ts';
import { DEFAULT_HOLDOUT, holdoutStartingOn } from '../../ml/holdout.ts';
import { loadPipeline } from '../../ml/pipeline.ts';
import type { TrainingSettings } from '../../ml/recipe.ts';
import { describeIncompleteOutput, scoreBatch } from '../../ml/score/index.ts';
import {
  REGRESSION_LOSSES,
  type RegressionLoss,
  TARGET_TRANSFORMS,
  type TargetTransform,
} from '../../ml/target.ts';
import { trainPipeline } from '../../ml/trainPipeline.ts';
import { MAX_VERSION, parseModelRef, resolveModelRef } from '../../registry/aliases.ts';
import { registerCandidate } from '../../registry/registerCandidate.ts';
import { artifactDirOf, getModelVersion } from '../../registry/versions.ts';
import { configFrom, parsePositiveInteger, withStore } from '../context.ts';
import { printJson } from '../format.ts';
import { formatEpoch, formatHoldout, formatMetrics } from './trainOutput.ts';

interface TrainFlags {
  from: string;
  to: string;
  seed?: number;
  epochs?: number;
  warmStart?: number;
  allowGaps?: boolean;
  holdoutDays?: number;
  holdoutMinRows?: number;
  loss?: string;
  huberDelta?: number;
  targetTransform?: string;
  json?: boolean;
}

/** The flags that override the pipeline's training settings; checked with them by trainPipeline. */
function trainingOverrides(flags: TrainFlags): Partial<TrainingSettings> {
  if (flags.holdoutDays !== undefined && flags.holdoutMinRows !== undefined) {
    throw new UsageError('--holdout-days and --holdout-min-rows: expected one of them, found both');
  }
  if (flags.loss !== undefined && !REGRESSION_LOSSES.includes(flags.loss as RegressionLoss)) {
    throw new UsageError(`invalid --loss '${flags.loss}': expected one of ${REGRESSION_LOSSES.join(', ')}`);
  }
  const transform = flags.targetTransform;
  if (
    transform !== undefined &&
    transform !== 'none' &&
    !TARGET_TRANSFORMS.includes(transform as TargetTransform)
  ) {
    throw new UsageError(
      `invalid --target-transform '${transform}': expected one of ${[...TARGET_TRANSFORMS, 'none'].join(', ')}`,
    );
  }
  return {
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.epochs === undefined ? {} : { epochs: flags.epochs }),
    ...(flags.holdoutDays === undefined ? {} : { holdout: { days: flags.holdoutDays } }),
    ...(flags.holdoutMinRows === undefined ? {} : { holdout: { minRows: flags.holdoutMinRows } }),
    ...(flags.loss === undefined ? {} : { loss: flags.loss as RegressionLoss }),
    // Another loss than the pipeline's huber drops its delta; --huber-delta with it is refused.
    ...(flags.loss !== undefined && flags.loss !== 'huber' ? { huberDelta: undefined } : {}),
    ...(flags.huberDelta === undefined ? {} : { huberDelta: flags.huberDelta }),
    ...(transform === undefined
      ? {}
      : { targetTransform: transform === 'none' ? undefined : (transform as TargetTransform) }),
  };
}

function parsePositiveNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0) {
    throw new UsageError(`invalid --huber-delta '${value}': expected a number > 0`);
  }
  return number;
}

interface ScoreFlags {
  model: string;
  input: string[];
  output: string;
  date?: string;
  from?: string;
  to?: string;
  workers?: number;
  batchSize?: number;
  json?: boolean;
}

/** `train <pipeline>` and `score <pipeline>`. */
export function registerMlCommands(program: Command): void {
  program
    .command('train <pipeline>')
    .description('train a pipeline on a window of daily partitions and register a candidate version')
    .requiredOption('--from <date>', 'first day of the training window, YYYY-MM-DD')
    .requiredOption('--to <date>', 'last day included; the newest rows validate')
    .option('--seed <n>', 'seed (default: the pipeline setting)', parsePositiveInteger('--seed'))
    .option(
      '--epochs <n>',
      'maximum epochs (default: the pipeline setting)',
      parsePositiveInteger('--epochs'),
    )
    .option(
      '--warm-start <version>',
      'start from this version of the model',
      parsePositiveInteger('--warm-start', MAX_VERSION),
    )
    .option(
      '--allow-gaps',
      'train even when days of the window have no complete partition (the lineage records them)',
    )
    .option(
      '--holdout-days <n>',
      'holdout: the N days after --to (default: the pipeline holdout setting, else 1 day)',
      parsePositiveInteger('--holdout-days'),
    )
    .option(
      '--holdout-min-rows <n>',
      'holdout: the days after --to until they hold N rows',
      parsePositiveInteger('--holdout-min-rows'),
    )
    .option('--loss <loss>', 'regression: mse, huber or mae (default: the pipeline setting, else mse)')
    .option('--huber-delta <x>', 'regression with --loss huber: the delta (default 1)', parsePositiveNumber)
    .option('--target-transform <name>', "regression: log1p, or 'none' (default: the pipeline setting)")
    .option('--json', 'print the registered version as JSON')
    .action(async (pipelineName: string, flags: TrainFlags, command: Command) => {
      const config = configFrom(command);
      const pipeline = await loadPipeline(pipelineName);
      const task = pipeline.model.task;
      const from = parseDay(flags.from, '--from');
      const to = parseDay(flags.to, '--to');
      const datasetDir = path.join(config.dataDir, pipeline.model.dataset);
      const window = await readWindow(datasetDir, from, to, {
        allowGaps: flags.allowGaps,
        what: `train ${pipeline.name}`,
      });
      const { partitions } = window;
      if (window.missing.length > 0) {
        process.stderr.write(`--allow-gaps: training without ${window.missing.join(', ')}\n`);
      }
      if (partitions.length === 0) {
        throw new UsageError(
          `no ${pipeline.model.dataset} partitions from ${from} to ${to} under ${datasetDir}`,
        );
      }
      const overrides = trainingOverrides(flags);
      const holdoutSpec = overrides.holdout ?? pipeline.model.training.holdout ?? DEFAULT_HOLDOUT;
      const holdout = await holdoutStartingOn(
        holdoutSpec,
        addDays(to, 1),
        (day) => readPartition(datasetDir, day),
        pipeline.model.dataset,
      );
      const backend = await initBackend();
      await withStore(config, async (store) => {
        let warmStart: Awaited<ReturnType<typeof loadModelArtifact>> | undefined;
        if (flags.warmStart !== undefined) {
          const version = await getModelVersion(store, pipeline.model.name, flags.warmStart);
          if (!version)
            throw new UsageError(`--warm-start: ${pipeline.model.name}@${flags.warmStart} is not registered`);
          warmStart = await loadModelArtifact(artifactDirOf(config.home, version), version.artifactSha256);
        }
        const candidate = await trainPipeline({
          pipeline,
          partitions,
          holdout: holdout.partitions,
          backend,
          overrides,
          warmStart: warmStart?.model,
          onEpoch: (record) => {
            if (process.stderr.isTTY && !flags.json) process.stderr.write(formatEpoch(task, record));
          },
        });
        const version = await registerCandidate(store, candidate, {
          home: config.home,
          pipeline,
          backend,
          window: { from, to, missing: window.missing },
          ...(flags.warmStart === undefined
            ? {}
            : { warmStartFrom: { model: pipeline.model.name, version: flags.warmStart } }),
        });
        if (flags.json) {
          printJson(version);
          return;
        }
        const validation = version.metrics as Record<string, unknown>;
        process.stdout.write(
          `${version.model}@${version.version} registered as ${version.status}: validation ` +
            `${formatMetrics(task, validation, validation.skipped as Record<string, string> | undefined)} on ` +
            `${candidate.training.validationRows.toLocaleString('en-US')} rows (${partitions.length} days, ${backend.name}, ` +
            `best epoch ${candidate.training.bestEpoch} of ${candidate.training.curves.length})\n`,
        );
        const measured = candidate.metrics.holdout;
        process.stdout.write(
          measured === undefined
            ? `${holdout.note}\n`
            : formatHoldout(task, measured, `${baselineName(pipeline)} on ${from}..${to}`),
        );
      });
    });

  program
    .command('score <pipeline>')
    .description('score partitions with a model version into one Parquet file per shard plus a manifest')
    .requiredOption(
      '--model <name@version|alias>',
      'the model version, e.g. flights-delay@3, flights-delay@latest or flights-delay@champion',
    )
    .requiredOption(
      '--input <paths...>',
      'partition folders (…/date=YYYY-MM-DD), a dataset folder with --from/--to or --date, or plain Parquet files, folders of them and globs (their day: their date= folder, else --date)',
    )
    .requiredOption('--output <dir>', 'folder for shard-*.parquet and _manifest.json')
    .option(
      '--date <date>',
      'logical date written into every row (default: the single input date); with a dataset folder and no --from/--to, the day scored',
    )
    .option('--from <date>', 'with a dataset folder: first day')
    .option('--to <date>', 'with a dataset folder: last day included')
    .option('--workers <n>', 'worker threads (default: one per core)', parsePositiveInteger('--workers'))
    .option('--batch-size <n>', 'rows per model call (default 8192)', parsePositiveInteger('--batch-size'))
    .option('--json', 'print the predictions manifest as JSON')
    .action(async (pipelineName: string, flags: ScoreFlags, command: Command) => {
      const config = configFrom(command);
      parseModelRef(flags.model); // before the store is opened (or created)
      await loadPipeline(pipelineName);
      const partitions = await resolveInput(flags);
      const dates = [...new Set(partitions.map((p) => p.date))];
      const logicalDate = flags.date
        ? parseDay(flags.date, '--date')
        : dates.length === 1
          ? dates[0]
          : undefined;
      if (logicalDate === undefined)
        throw new UsageError('--date is required when the input spans several days');
      const version = await withStore(config, (store) => resolveModelRef(store, flags.model));
      const result = await scoreBatch({
        model: version.model,
        modelVersion: version.version,
        artifactDir: artifactDirOf(config.home, version),
        manifestSha256: version.artifactSha256,
        partitions,
        outputDir: path.resolve(flags.output),
        logicalDate,
        workers: flags.workers,
        microBatch: flags.batchSize,
        onShard: (done, total, rows) => {
          if (process.stderr.isTTY && !flags.json)
            process.stderr.write(`\rshards ${done}/${total}, ${rows.toLocaleString('en-US')} rows`);
        },
        onIncomplete: (incomplete) => process.stderr.write(`${describeIncompleteOutput(incomplete)}\n`),
      });
      if (process.stderr.isTTY && !flags.json) process.stderr.write('\n');
      if (flags.json) {
        printJson(result.manifest);
        return;
      }
      process.stdout.write(
        `${result.manifest.rowCount.toLocaleString('en-US')} rows scored with ${version.model}@${version.version} into ` +
          `${result.manifest.shards.length} shards (${result.scoredShards} written, ${result.skippedShards} already complete) ` +
          `in ${result.seconds.toFixed(1)} s: ${path.resolve(flags.output)}\n`,
      );
    });
}

async function resolveInput(flags: ScoreFlags): Promise<Partition[]> {
  return resolveParquetInputs(flags.input, {
    ...(flags.date ? { date: parseDay(flags.date, '--date') } : {}),
    ...(flags.from ? { from: parseDay(flags.from, '--from') } : {}),
    ...(flags.to ? { to: parseDay(flags.to, '--to') } : {}),
  });
}

function baselineName(pipeline: {
  model: { baseline?: { slice: string; bucket: { feature: string } } };
}): string {
  const spec = pipeline.model.baseline;
  return spec ? `mean label per (${spec.slice}, ${spec.bucket.feature})` : 'baseline';
}

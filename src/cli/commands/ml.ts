import path from 'node:path';
import type { Command } from 'commander';
import {
  listPartitions,
  type Partition,
  parseDay,
  readWindow,
  resolveParquetInputs,
} from '../../data/index.ts';
import { UsageError } from '../../errors.ts';
import { loadModelArtifact } from '../../ml/artifacts.ts';
import { initBackend } from '../../ml/backend.ts';
import { loadPipeline } from '../../ml/pipeline.ts';
import { describeIncompleteOutput, scoreBatch } from '../../ml/score/index.ts';
import { trainPipeline } from '../../ml/trainPipeline.ts';
import { MAX_VERSION, parseModelRef, resolveModelRef } from '../../registry/aliases.ts';
import { registerCandidate } from '../../registry/registerCandidate.ts';
import { artifactDirOf, getModelVersion } from '../../registry/versions.ts';
import { configFrom, parsePositiveInteger, withStore } from '../context.ts';
import { printJson } from '../format.ts';

interface TrainFlags {
  from: string;
  to: string;
  seed?: number;
  epochs?: number;
  warmStart?: number;
  allowGaps?: boolean;
  json?: boolean;
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
    .option('--json', 'print the registered version as JSON')
    .action(async (pipelineName: string, flags: TrainFlags, command: Command) => {
      const config = configFrom(command);
      const pipeline = await loadPipeline(pipelineName);
      const from = parseDay(flags.from, '--from');
      const to = parseDay(flags.to, '--to');
      const window = await readWindow(path.join(config.dataDir, pipeline.model.dataset), from, to, {
        allowGaps: flags.allowGaps,
        what: `train ${pipeline.name}`,
      });
      const { partitions } = window;
      if (window.missing.length > 0) {
        process.stderr.write(`--allow-gaps: training without ${window.missing.join(', ')}\n`);
      }
      if (partitions.length === 0) {
        throw new UsageError(
          `no ${pipeline.model.dataset} partitions from ${from} to ${to} under ${config.dataDir}`,
        );
      }
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
          backend,
          overrides: {
            ...(flags.seed === undefined ? {} : { seed: flags.seed }),
            ...(flags.epochs === undefined ? {} : { epochs: flags.epochs }),
          },
          warmStart: warmStart?.model,
          onEpoch: (record) => {
            if (process.stderr.isTTY && !flags.json) {
              process.stderr.write(
                `epoch ${record.epoch}: loss ${record.loss.toFixed(4)}, validation loss ${record.validationLoss.toFixed(4)}, ` +
                  `AUC ${record.validationMetric.toFixed(4)}, ${Math.round(record.samplesPerSecond).toLocaleString('en-US')} samples/s\n`,
              );
            }
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
        const auc = Number(version.metrics.auc);
        process.stdout.write(
          `${version.model}@${version.version} registered as ${version.status}: validation AUC ${auc.toFixed(4)} on ` +
            `${candidate.training.validationRows.toLocaleString('en-US')} rows (${partitions.length} days, ${backend.name}, ` +
            `best epoch ${candidate.training.bestEpoch} of ${candidate.training.curves.length})\n`,
        );
        const holdout = candidate.metrics.holdout;
        process.stdout.write(
          holdout === undefined
            ? `no holdout: no ${pipeline.model.dataset} partitions in the 7 days after ${to}\n`
            : `holdout ${holdout.from}..${holdout.to} (${holdout.rows.toLocaleString('en-US')} rows): model AUC ${holdout.auc.toFixed(4)}` +
                (holdout.baselineAuc === undefined
                  ? ''
                  : `, baseline AUC ${holdout.baselineAuc.toFixed(4)} (${baselineName(pipeline)} on ${from}..${to}), ` +
                    `${holdout.auc > holdout.baselineAuc ? '+' : ''}${(holdout.auc - holdout.baselineAuc).toFixed(4)}`) +
                `; log loss ${holdout.logLoss.toFixed(4)}\n`,
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
  return spec ? `rate per (${spec.slice}, ${spec.bucket.feature})` : 'baseline';
}

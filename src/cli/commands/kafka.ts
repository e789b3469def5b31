import path from 'node:path';
import type { Command } from 'commander';
import {
  datasetKafkaSourceOptions,
  dayInterval,
  errorSinkFor,
  FLIGHTS_DATASET,
  kafkaSource,
  parseBrokers,
  parseDay,
  replayDataset,
  replayFlights,
  resolveContract,
} from '../../data/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom } from '../context.ts';
import { printJson } from '../format.ts';

const BROKERS_HELP = 'Kafka brokers, host:port[,host:port] (env KAFKA_BROKERS)';

/**
 * `kafka replay <dataset>`: publish a dataset's rows as JSON events with their event times
 * (demos, tests, benchmarks); `kafka ingest <dataset>`: write one day of such a topic as a
 * partition. Both follow the dataset's contract (`_dataset.json`; built in for flights).
 */
export function registerKafkaCommands(program: Command): void {
  const kafka = program
    .command('kafka')
    .description('Kafka topics: replay a dataset as events, ingest a day');
  const replay = kafka
    .command('replay <dataset>')
    .description(
      "publish a dataset's days as JSON events keyed by its id column, timestamped with their event time (flights: prepared when missing)",
    )
    .requiredOption('--topic <topic>', 'topic to publish to (created with 3 partitions when absent)')
    .requiredOption('--from <date>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <date>', 'last day included, YYYY-MM-DD')
    .option('--rate <n>', 'messages per second (default: as fast as the broker takes them)')
    .option('--brokers <list>', BROKERS_HELP)
    .action(
      async (
        dataset: string,
        options: { topic: string; from: string; to: string; rate?: string; brokers?: string },
        command: Command,
      ) => {
        const config = configFrom(command);
        const rate = options.rate === undefined ? undefined : positiveNumber('--rate', options.rate);
        const common = {
          brokers: parseBrokers(options.brokers ?? process.env.KAFKA_BROKERS),
          topic: options.topic,
          from: parseDay(options.from, '--from'),
          to: parseDay(options.to, '--to'),
          ...(rate === undefined ? {} : { rate }),
        };
        const contract = await resolveContract(config.dataDir, dataset);
        const result =
          dataset === FLIGHTS_DATASET
            ? await replayFlights({ ...common, dataDir: config.dataDir })
            : await replayDataset({ ...common, datasetDir: path.join(config.dataDir, dataset), contract });
        const perSecond = Math.round(result.messages / (result.ms / 1000));
        process.stdout.write(
          `published ${result.messages.toLocaleString('en-US')} ${dataset} events to ${result.topic} in ${(result.ms / 1000).toFixed(1)} s (${perSecond.toLocaleString('en-US')}/s)\n`,
        );
      },
    );
  const ingest = kafka
    .command('ingest <dataset>')
    .description(
      "read one day of a topic of the dataset's events by message timestamp and write it as a partition, one row per id",
    )
    .requiredOption('--topic <topic>', 'topic to read')
    .requiredOption('--date <date>', "the day, YYYY-MM-DD (in the contract's time zone, default UTC)")
    .option('--into <name>', 'dataset folder written under the data folder (default: <dataset>-events)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        dataset: string,
        options: { topic: string; date: string; into?: string; brokers?: string; json?: boolean },
        command: Command,
      ) => {
        const config = configFrom(command);
        const date = parseDay(options.date, '--date');
        const into = options.into ?? `${dataset}-events`;
        if (into === dataset)
          throw new UsageError(
            `--into ${into}: the events would replace the days of the dataset they follow; name another folder`,
          );
        const contract = await resolveContract(config.dataDir, dataset);
        const result = await kafkaSource(datasetKafkaSourceOptions(contract, options.topic)).ingest({
          brokers: parseBrokers(options.brokers ?? process.env.KAFKA_BROKERS),
          datasetDir: path.join(config.dataDir, into),
          date,
          interval: dayInterval(date, contract.timezone),
          errorSink: errorSinkFor(config.home, `ingest-${into}`, 'kafka'),
        });
        if (options.json) {
          printJson(result);
          return;
        }
        process.stdout.write(
          `${options.topic} ${date}: ${result.rows.toLocaleString('en-US')} rows ${result.status}, ` +
            `${result.duplicateRows} duplicates dropped (same ${contract.idColumn ?? 'id'}, last write wins), ` +
            `${result.errorRows} bad messages${result.errorFile ? ` (see ${result.errorFile})` : ''}\n`,
        );
      },
    );
  for (const command of [kafka, replay, ingest]) command.exitOverride();
}

function positiveNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0) || !Number.isFinite(parsed))
    throw new UsageError(`${flag}: expected a positive number, got '${value}'`);
  return parsed;
}

import path from 'node:path';
import type { Command } from 'commander';
import {
  errorSinkFor,
  flightsKafkaSourceOptions,
  kafkaSource,
  parseBrokers,
  parseDay,
  replayFlights,
} from '../../data/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom } from '../context.ts';
import { printJson } from '../format.ts';

const BROKERS_HELP = 'Kafka brokers, host:port[,host:port] (env KAFKA_BROKERS)';

/**
 * `kafka replay flights`: publish the flights as JSON events with their event times (demos,
 * tests, benchmarks); `kafka ingest flights`: write one day of such a topic as a partition.
 */
export function registerKafkaCommands(program: Command): void {
  const kafka = program.command('kafka').description('Kafka topics: replay sample events, ingest a day');
  const replay = kafka.command('replay').description('publish a sample dataset to a topic');
  replay
    .command('flights')
    .description('publish flights as JSON keyed by flight_id, timestamped with their departure time')
    .requiredOption('--topic <topic>', 'topic to publish to (created with 3 partitions when absent)')
    .requiredOption('--from <date>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <date>', 'last day included, YYYY-MM-DD')
    .option('--rate <n>', 'messages per second (default: as fast as the broker takes them)')
    .option('--brokers <list>', BROKERS_HELP)
    .action(
      async (
        options: { topic: string; from: string; to: string; rate?: string; brokers?: string },
        command: Command,
      ) => {
        const config = configFrom(command);
        const rate = options.rate === undefined ? undefined : positiveNumber('--rate', options.rate);
        const result = await replayFlights({
          brokers: parseBrokers(options.brokers ?? process.env.KAFKA_BROKERS),
          topic: options.topic,
          dataDir: config.dataDir,
          from: parseDay(options.from, '--from'),
          to: parseDay(options.to, '--to'),
          ...(rate === undefined ? {} : { rate }),
        });
        const perSecond = Math.round(result.messages / (result.ms / 1000));
        process.stdout.write(
          `published ${result.messages.toLocaleString('en-US')} flights to ${result.topic} in ${(result.ms / 1000).toFixed(1)} s (${perSecond.toLocaleString('en-US')}/s)\n`,
        );
      },
    );
  const ingest = kafka.command('ingest').description('write one day of a topic as a partition');
  ingest
    .command('flights')
    .description('read the day of a flights topic by message timestamp and write it as a partition')
    .requiredOption('--topic <topic>', 'topic to read')
    .requiredOption('--date <date>', 'the day, YYYY-MM-DD (UTC)')
    .option('--dataset <name>', 'dataset folder under the data folder', 'flights-events')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        options: { topic: string; date: string; dataset: string; brokers?: string; json?: boolean },
        command: Command,
      ) => {
        const config = configFrom(command);
        const date = parseDay(options.date, '--date');
        const result = await kafkaSource(flightsKafkaSourceOptions(options.topic)).ingest({
          brokers: parseBrokers(options.brokers ?? process.env.KAFKA_BROKERS),
          datasetDir: path.join(config.dataDir, options.dataset),
          date,
          errorSink: errorSinkFor(config.home, `ingest-${options.dataset}`, 'kafka'),
        });
        if (options.json) {
          printJson(result);
          return;
        }
        process.stdout.write(
          `${options.topic} ${date}: ${result.rows.toLocaleString('en-US')} rows ${result.status}, ` +
            `${result.errorRows} bad messages${result.errorFile ? ` (see ${result.errorFile})` : ''}\n`,
        );
      },
    );
  for (const command of [kafka, replay, ingest, ...replay.commands, ...ingest.commands])
    command.exitOverride();
}

function positiveNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0) || !Number.isFinite(parsed))
    throw new UsageError(`${flag}: expected a positive number, got '${value}'`);
  return parsed;
}

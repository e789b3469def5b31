import path from 'node:path';
import kafkajs from 'kafkajs';
import { UsageError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import { type DatasetContract, FLIGHTS_CONTRACT } from '../datasetContract.ts';
import type { Day } from '../dates.ts';
import { sqlIdentifier, sqlString, withDuckSession } from '../duckdb.ts';
import { sqlFileList } from '../features/fit.ts';
import { FLIGHTS_COLUMNS, FLIGHTS_DATASET, prepareFlights } from '../flights.ts';
import { listPartitions } from '../partitions.ts';
import { ensureTopic, kafkaClient } from './client.ts';
import { datasetKafkaSourceOptions } from './datasetSource.ts';
import type { MessageSchema } from './messages.ts';
import type { KafkaSourceOptions } from './source.ts';

const { Partitioners } = kafkajs;

/** The flights message contract: the partition columns, as JSON fields. */
export const FLIGHTS_MESSAGE_SCHEMA: MessageSchema = FLIGHTS_COLUMNS;

export interface ReplayDatasetOptions {
  brokers: readonly string[];
  topic: string;
  /** The dataset's folder: its complete partitions from `from` to `to` are published. */
  datasetDir: string;
  contract: DatasetContract;
  from: Day;
  /** Last day included. */
  to: Day;
  /** Messages per second; unlimited when absent. */
  rate?: number;
  /** Partitions of a topic created here; default 3. */
  topicPartitions?: number;
}

export type ReplayFlightsOptions = Omit<ReplayDatasetOptions, 'datasetDir' | 'contract'> & {
  /** Root of the datasets: flights are prepared under `<dataDir>/flights` when missing. */
  dataDir: string;
};

export interface ReplayResult {
  topic: string;
  messages: number;
  ms: number;
}
export type ReplayFlightsResult = ReplayResult;

const SEND_BATCH = 4_096;
/** Sends in flight at once: kafkajs waits for each produce request, so pipeline a few. */
const SENDS_IN_FLIGHT = 4;

/**
 * Publishes the flights of [from, to] (see `replayDataset`), preparing the partitions first
 * when they are missing.
 */
export async function replayFlights(options: ReplayFlightsOptions): Promise<ReplayResult> {
  if (options.from > options.to) throw new UsageError(`--from ${options.from} is after --to ${options.to}`);
  await prepareFlights({ dataDir: options.dataDir, from: options.from, to: options.to });
  const { dataDir, ...rest } = options;
  return replayDataset({
    ...rest,
    datasetDir: path.join(dataDir, FLIGHTS_DATASET),
    contract: FLIGHTS_CONTRACT,
  });
}

/**
 * Publishes a dataset's rows of [from, to] in event-time order as JSON messages (one field per
 * contract column) keyed by the contract's id column, each timestamped with its event time (the
 * day's midnight, UTC, for a dataset without one), so that ingesting a day by timestamp gets
 * exactly that day's rows.
 */
export async function replayDataset(options: ReplayDatasetOptions): Promise<ReplayResult> {
  if (options.from > options.to) throw new UsageError(`--from ${options.from} is after --to ${options.to}`);
  if (options.rate !== undefined && !(options.rate > 0))
    throw new UsageError(`--rate: expected a positive number, got ${options.rate}`);
  const partitions = await listPartitions(options.datasetDir, { from: options.from, to: options.to });
  if (partitions.length === 0) {
    throw new UsageError(
      `dataset ${options.contract.dataset}: no complete partition from ${options.from} to ${options.to} in ${options.datasetDir}`,
    );
  }
  const log = childLogger({ component: 'data', topic: options.topic, dataset: options.contract.dataset });
  const kafka = kafkaClient(options.brokers, 'nightshift-replay');
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Retention counts from message timestamps: with the default 7 days, the broker deletes
    // events dated in the past at its next retention check (5 minutes), and a later ingest finds nothing.
    await ensureTopic(admin, options.topic, options.topicPartitions ?? 3, { 'retention.ms': '-1' });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  let messages = 0;
  try {
    await withDuckSession(async (connection) => {
      const inFlight = new Set<Promise<unknown>>();
      let batch: { key: string | null; value: string; timestamp: string }[] = [];
      const send = async () => {
        const sending = producer.send({ topic: options.topic, messages: batch, acks: -1 });
        batch = [];
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending)).catch(() => undefined);
        if (inFlight.size >= SENDS_IN_FLIGHT) await Promise.race(inFlight);
      };
      // One query a day, days in order: the whole range in event-time order.
      for (const partition of partitions) {
        // The JSON is built by DuckDB: JS only forwards strings.
        const result = await connection.stream(replaySql(options.contract, partition.files, partition.date));
        for (
          let chunk = await result.fetchChunk();
          chunk && chunk.rowCount > 0;
          chunk = await result.fetchChunk()
        ) {
          const [keys, values, timestamps] = [0, 1, 2].map((column) => chunk.getColumnVector(column));
          for (let row = 0; row < chunk.rowCount; row++) {
            batch.push({
              key: (keys?.getItem(row) as string | null) ?? null,
              value: values?.getItem(row) as string,
              timestamp: timestamps?.getItem(row) as string,
            });
          }
          messages += chunk.rowCount;
          if (batch.length >= SEND_BATCH) await send();
          if (options.rate !== undefined) await keepRate(started, messages, options.rate);
        }
      }
      if (batch.length > 0) await send();
      await Promise.all(inFlight);
    });
  } finally {
    await producer.disconnect();
  }
  const ms = performance.now() - started;
  log.info({ messages, ms: Math.round(ms), from: options.from, to: options.to }, 'dataset replayed');
  return { topic: options.topic, messages, ms };
}

/** Key, JSON value and timestamp (epoch ms) of each row of one day's files. */
function replaySql(contract: DatasetContract, files: readonly string[], date: Day): string {
  const fields = contract.columns.map(({ name, type }) => {
    const column = sqlIdentifier(name);
    // An instant as ISO with a Z, which every reader parses; DuckDB's JSON would write '+00'.
    const value =
      type === 'TIMESTAMP WITH TIME ZONE'
        ? `strftime(timezone('UTC', ${column}), '%Y-%m-%dT%H:%M:%S.%fZ')`
        : column;
    return `${sqlString(name)}, ${value}`;
  });
  const eventTime = contract.eventTimeColumn;
  const eventType = contract.columns.find((column) => column.name === eventTime)?.type;
  const timestamp =
    eventTime === undefined
      ? `epoch_ms(DATE ${sqlString(date)})`
      : eventType === 'VARCHAR'
        ? `coalesce(epoch_ms(try_cast(${sqlIdentifier(eventTime)} AS TIMESTAMPTZ)), epoch_ms(DATE ${sqlString(date)}))`
        : eventType === 'DATE'
          ? `epoch_ms(${sqlIdentifier(eventTime)}::TIMESTAMP)`
          : `epoch_ms(${sqlIdentifier(eventTime)})`;
  const id = contract.idColumn === undefined ? 'NULL' : `${sqlIdentifier(contract.idColumn)}::VARCHAR`;
  const order = [eventTime, contract.idColumn].filter((c): c is string => c !== undefined).map(sqlIdentifier);
  return `SELECT ${id}, json_object(${fields.join(', ')})::VARCHAR, (${timestamp})::VARCHAR
    FROM read_parquet(${sqlFileList(files)}, hive_partitioning = false)
    ${order.length > 0 ? `ORDER BY ${order.join(', ')}` : ''}`;
}

async function keepRate(started: number, sent: number, rate: number): Promise<void> {
  const due = started + (sent / rate) * 1000;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** The flights topic as an ingest source: the same columns as the prepared partitions. */
export function flightsKafkaSourceOptions(topic: string): KafkaSourceOptions {
  return datasetKafkaSourceOptions(FLIGHTS_CONTRACT, topic);
}

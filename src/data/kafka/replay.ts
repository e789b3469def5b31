import path from 'node:path';
import kafkajs from 'kafkajs';
import { UsageError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import type { Day } from '../dates.ts';
import { withDuckSession } from '../duckdb.ts';
import { sqlFileList } from '../features/fit.ts';
import { FLIGHTS_COLUMNS, FLIGHTS_DATASET, prepareFlights } from '../flights.ts';
import { listPartitions } from '../partitions.ts';
import { ensureTopic, kafkaClient } from './client.ts';
import type { MessageSchema } from './messages.ts';
import type { KafkaSourceOptions } from './source.ts';

const { Partitioners } = kafkajs;

/** The flights message contract: the partition columns, as JSON fields. */
export const FLIGHTS_MESSAGE_SCHEMA: MessageSchema = FLIGHTS_COLUMNS;

export interface ReplayFlightsOptions {
  brokers: readonly string[];
  topic: string;
  dataDir: string;
  from: Day;
  /** Last day included. */
  to: Day;
  /** Messages per second; unlimited when absent. */
  rate?: number;
  /** Partitions of a topic created here; default 3. */
  topicPartitions?: number;
}

export interface ReplayFlightsResult {
  topic: string;
  messages: number;
  ms: number;
}

const SEND_BATCH = 4_096;
/** Sends in flight at once: kafkajs waits for each produce request, so pipeline a few. */
const SENDS_IN_FLIGHT = 4;

/**
 * Publishes the flights of [from, to] in event-time order as JSON messages keyed by flight_id,
 * each with its departure time as the message timestamp, so that ingesting a day by timestamp
 * gets exactly that day's flights. Prepares the partitions first when they are missing.
 */
export async function replayFlights(options: ReplayFlightsOptions): Promise<ReplayFlightsResult> {
  if (options.from > options.to) throw new UsageError(`--from ${options.from} is after --to ${options.to}`);
  if (options.rate !== undefined && !(options.rate > 0))
    throw new UsageError(`--rate: expected a positive number, got ${options.rate}`);
  await prepareFlights({ dataDir: options.dataDir, from: options.from, to: options.to });
  const partitions = await listPartitions(path.join(options.dataDir, FLIGHTS_DATASET), {
    from: options.from,
    to: options.to,
  });
  const files = partitions.flatMap((partition) => partition.files);
  const log = childLogger({ component: 'data', topic: options.topic });

  const kafka = kafkaClient(options.brokers, 'nightshift-replay');
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Retention counts from message timestamps: with the default 7 days, the broker deletes
    // events dated 2001 at its next retention check (5 minutes), and a later ingest finds nothing.
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
      // The JSON is built by DuckDB: JS only forwards strings.
      const result = await connection.stream(
        `SELECT flight_id::VARCHAR, json_object(${Object.keys(FLIGHTS_COLUMNS)
          .map((column) => `'${column}', ${column}`)
          .join(', ')})::VARCHAR, epoch_ms(departure_time)::VARCHAR
         FROM read_parquet(${sqlFileList(files)}, hive_partitioning = false) ORDER BY departure_time, flight_id`,
      );
      const inFlight = new Set<Promise<unknown>>();
      let batch: { key: string; value: string; timestamp: string }[] = [];
      const send = async () => {
        const sending = producer.send({ topic: options.topic, messages: batch, acks: -1 });
        batch = [];
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending)).catch(() => undefined);
        if (inFlight.size >= SENDS_IN_FLIGHT) await Promise.race(inFlight);
      };
      for (
        let chunk = await result.fetchChunk();
        chunk && chunk.rowCount > 0;
        chunk = await result.fetchChunk()
      ) {
        const [keys, values, timestamps] = [0, 1, 2].map((column) => chunk.getColumnVector(column));
        for (let row = 0; row < chunk.rowCount; row++) {
          batch.push({
            key: keys?.getItem(row) as string,
            value: values?.getItem(row) as string,
            timestamp: timestamps?.getItem(row) as string,
          });
        }
        messages += chunk.rowCount;
        if (batch.length >= SEND_BATCH) await send();
        if (options.rate !== undefined) await keepRate(started, messages, options.rate);
      }
      if (batch.length > 0) await send();
      await Promise.all(inFlight);
    });
  } finally {
    await producer.disconnect();
  }
  const ms = performance.now() - started;
  log.info({ messages, ms: Math.round(ms), from: options.from, to: options.to }, 'flights replayed');
  return { topic: options.topic, messages, ms };
}

async function keepRate(started: number, sent: number, rate: number): Promise<void> {
  const due = started + (sent / rate) * 1000;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** The flights topic as an ingest source: the same columns as the prepared partitions. */
export function flightsKafkaSourceOptions(topic: string): KafkaSourceOptions {
  return {
    topic,
    format: 'json' as const,
    dataset: FLIGHTS_DATASET,
    columns: FLIGHTS_MESSAGE_SCHEMA,
    timestampField: 'departure_time',
    orderBy: ['flight_id'],
  };
}

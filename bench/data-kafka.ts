/**
 * Kafka ingest throughput: replay a week of flights into a fresh topic, then ingest it back,
 * as one interval (throughput) and as one day (what a nightly run pays, group join included).
 * Skipped, with a line saying so, when no broker is reachable.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  addDays,
  dayStartMs,
  flightsKafkaSourceOptions,
  kafkaSource,
  replayFlights,
} from '../src/data/index.ts';
import { kafkaClient } from '../src/data/kafka/client.ts';

const FROM = '2001-01-01';
const TO = '2001-01-07';

async function reachableBrokers(): Promise<string[] | undefined> {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
  const admin = kafkaClient(brokers, 'nightshift-bench').admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.listTopics();
    return brokers;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function benchKafkaIngest(options: { dataDir: string }): Promise<void> {
  const brokers = await reachableBrokers();
  if (brokers === undefined) {
    console.log(
      'kafka ingest: skipped, no broker at KAFKA_BROKERS (or 127.0.0.1:19092); start one with npm run kafka:start',
    );
    return;
  }
  const topic = `bench-flights-${randomUUID()}`;
  const replayed = await replayFlights({ brokers, topic, dataDir: options.dataDir, from: FROM, to: TO });
  console.log(
    `kafka replay ${FROM}..${TO}: ${replayed.messages} messages in ${replayed.ms.toFixed(0)} ms, ${Math.round(replayed.messages / (replayed.ms / 1000))} events/s`,
  );
  const source = kafkaSource(flightsKafkaSourceOptions(topic));
  const scratch = path.join(os.tmpdir(), `nightshift-bench-${process.pid}`);
  try {
    const weekStart = performance.now();
    const week = await source.ingest({
      brokers,
      datasetDir: path.join(scratch, 'week'),
      date: FROM,
      interval: { startMs: dayStartMs(FROM), endMs: dayStartMs(addDays(TO, 1)) },
      maxErrorRate: 1,
    });
    const weekMs = performance.now() - weekStart;
    console.log(
      `kafka ingest, one interval of a week: ${week.messages} events in ${weekMs.toFixed(0)} ms, ${Math.round(week.messages / (weekMs / 1000))} events/s (consume, validate, write Parquet)`,
    );
    const dayStart = performance.now();
    const day = await source.ingest({ brokers, datasetDir: path.join(scratch, 'day'), date: FROM });
    const dayMs = performance.now() - dayStart;
    console.log(
      `kafka ingest, one day: ${day.messages} events in ${dayMs.toFixed(0)} ms, ${Math.round(day.messages / (dayMs / 1000))} events/s (group join included)`,
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
    const admin = kafkaClient(brokers, 'nightshift-bench').admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

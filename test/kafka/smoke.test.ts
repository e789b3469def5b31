// The real broker with the kafkajs features Nightshift relies on: explicit topic creation,
// transactional producers (commit and abort) and read_committed consumers.
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeWithKafka, kafkaBrokers } from '../helpers/services.ts';

const { Kafka, KafkaJSError, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;
type Admin = ReturnType<KafkaClient['admin']>;

const PARTITIONS = 2;
const CONSUME_TIMEOUT_MS = 30_000;
const TOPIC_READY_TIMEOUT_MS = 15_000;

interface KeyedMessage {
  partition: number;
  key: string;
  value: string;
}

// Two partitions each get messages from every batch, so a consumer that has read all of the last
// committed batch has necessarily read past the aborted one in both partitions.
function batch(name: string, size: number): KeyedMessage[] {
  return Array.from({ length: size }, (_, i) => ({
    partition: i % PARTITIONS,
    key: `${name}-${i}`,
    value: JSON.stringify({ batch: name, index: i }),
  }));
}

const committedFirst = batch('committed-first', 4);
const aborted = batch('aborted', 3);
const committedLast = batch('committed-last', 2);

function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

// kafkajs's own `waitForLeaders` gives up when the broker answers UNKNOWN_TOPIC_OR_PARTITION, which a
// KRaft broker does for a moment after creating a topic (its metadata cache lags the controller; seen
// here with two test runs sharing the broker; kafkajs issues #815, #1563). So create without it and
// poll the metadata until every partition has a leader, retrying the retriable errors.
async function createTopic(admin: Admin, topic: string): Promise<void> {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: false,
  });
  expect(created).toBe(true);
  const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
  let lastProblem = 'no metadata yet';
  while (Date.now() < deadline) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      if (partitions.length === PARTITIONS && partitions.every((partition) => partition.leader >= 0)) return;
      lastProblem = `partitions and leaders: ${JSON.stringify(partitions.map((p) => [p.partitionId, p.leader]))}`;
    } catch (error) {
      if (!(error instanceof KafkaJSError && error.retriable)) throw error;
      lastProblem = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `topic ${topic} has no leader for every partition after ${TOPIC_READY_TIMEOUT_MS} ms: ${lastProblem}`,
  );
}

// Writes committedFirst, then aborted (aborted), then committedLast, each in its own transaction.
async function produceCommittedAndAbortedBatches(kafka: KafkaClient, topic: string): Promise<void> {
  const producer = kafka.producer({
    transactionalId: uniqueName('smoke-tx'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (const [records, outcome] of [
      [committedFirst, 'commit'],
      [aborted, 'abort'],
      [committedLast, 'commit'],
    ] as const) {
      const transaction = await producer.transaction();
      try {
        await transaction.send({ topic, messages: records.map((record) => ({ ...record })) });
      } catch (error) {
        await transaction.abort();
        throw error;
      }
      if (outcome === 'commit') await transaction.commit();
      else await transaction.abort();
    }
  } finally {
    await producer.disconnect();
  }
}

// Consumes from the beginning until `count` messages arrived; fails after CONSUME_TIMEOUT_MS
// listing what did arrive. Always disconnects the consumer.
async function consumeFromBeginning(
  kafka: KafkaClient,
  topic: string,
  options: { readUncommitted: boolean; count: number },
): Promise<KeyedMessage[]> {
  const consumer = kafka.consumer({
    groupId: uniqueName('smoke-group'),
    readUncommitted: options.readUncommitted,
    maxWaitTimeInMs: 200,
  });
  const received: KeyedMessage[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `expected ${options.count} messages on ${topic} within ${CONSUME_TIMEOUT_MS} ms, got ${received.length}: ` +
                JSON.stringify(received),
            ),
          ),
        CONSUME_TIMEOUT_MS,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            received.push({ partition, key: String(message.key), value: String(message.value) });
            if (received.length >= options.count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return received;
}

function sorted(records: KeyedMessage[]): KeyedMessage[] {
  return [...records].sort((a, b) => a.key.localeCompare(b.key));
}

describeWithKafka('the test Kafka broker with kafkajs', () => {
  let kafka: KafkaClient;
  let admin: Admin;

  beforeAll(async () => {
    kafka = new Kafka({
      clientId: 'nightshift-kafka-smoke-test',
      brokers: kafkaBrokers() ?? [],
      // kafkajs logs retriable errors (coordinator still loading) at ERROR; the test asserts
      // outcomes instead. KAFKAJS_LOG_LEVEL=debug overrides this when investigating.
      logLevel: logLevel.NOTHING,
    });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
  });

  test('creates a topic with the requested partitions', async () => {
    const topic = uniqueName('smoke-create');
    await createTopic(admin, topic);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(PARTITIONS);
    await admin.deleteTopics({ topics: [topic] });
  });

  test('a read_committed consumer sees exactly the committed transactions, none of the aborted one', async () => {
    const topic = uniqueName('smoke-committed');
    await createTopic(admin, topic);
    await produceCommittedAndAbortedBatches(kafka, topic);

    const expected = [...committedFirst, ...committedLast];
    const received = await consumeFromBeginning(kafka, topic, {
      readUncommitted: false,
      count: expected.length,
    });

    expect(received).toHaveLength(expected.length);
    expect(sorted(received)).toEqual(sorted(expected));
    expect(received.filter((record) => record.key.startsWith('aborted'))).toEqual([]);
    await admin.deleteTopics({ topics: [topic] });
  });

  test('offsets sent in a committed transaction become the group offsets (consume-transform-produce)', async () => {
    const topic = uniqueName('smoke-offsets');
    const groupId = uniqueName('smoke-eos-group');
    await createTopic(admin, topic);
    const producer = kafka.producer({
      transactionalId: uniqueName('smoke-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: committedFirst.map((record) => ({ ...record })) });
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic, partitions: [{ partition: 0, offset: '2' }] }],
      });
      await transaction.commit();
    } finally {
      await producer.disconnect();
    }

    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = Object.fromEntries(offsets?.partitions.map((p) => [p.partition, p.offset]) ?? []);
    expect(byPartition).toEqual({ 0: '2', 1: '-1' });
    await admin.deleteTopics({ topics: [topic] });
  });

  test('a read_uncommitted consumer does see the aborted messages (they were written)', async () => {
    const topic = uniqueName('smoke-uncommitted');
    await createTopic(admin, topic);
    await produceCommittedAndAbortedBatches(kafka, topic);

    const expected = [...committedFirst, ...aborted, ...committedLast];
    const received = await consumeFromBeginning(kafka, topic, {
      readUncommitted: true,
      count: expected.length,
    });

    expect(sorted(received)).toEqual(sorted(expected));
    await admin.deleteTopics({ topics: [topic] });
  });
});

import kafkajs from 'kafkajs';
import { ConfigError, NightshiftError } from '../../errors.ts';
import { childLogger } from '../../log.ts';

const { Kafka, KafkaJSError, logLevel } = kafkajs;
export type KafkaClient = InstanceType<typeof Kafka>;
type Admin = ReturnType<KafkaClient['admin']>;

const TOPIC_READY_TIMEOUT_MS = 15_000;

/** `host:port[,host:port...]`, from a flag or `KAFKA_BROKERS`. */
export function parseBrokers(value: string | undefined): string[] {
  const brokers = (value ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  if (brokers.length === 0)
    throw new ConfigError('no Kafka brokers: pass --brokers host:port or set KAFKA_BROKERS');
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d+$/.test(broker)) throw new ConfigError(`Kafka broker '${broker}': expected host:port`);
  }
  return brokers;
}

/** A kafkajs client whose log lines go through the project's logger. */
export function kafkaClient(brokers: readonly string[], clientId: string): KafkaClient {
  const log = childLogger({ component: 'kafka', clientId });
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.WARN,
    // kafkajs logs at ERROR what it then retries (say, "group coordinator not available" while a
    // broker starts); failures that matter reach the caller as exceptions. So: warnings here.
    logCreator: () => (entry) => {
      const { message, ...extra } = entry.log;
      log.warn({ namespace: entry.namespace, ...extra }, message);
    },
  });
}

/**
 * Creates the topic when absent and waits until every partition has a leader. kafkajs's own
 * `waitForLeaders` gives up when a KRaft broker briefly answers UNKNOWN_TOPIC_OR_PARTITION just
 * after creating a topic (kafkajs issues #815, #1563), so poll the metadata instead.
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  config: Record<string, string> = {},
): Promise<number> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }],
      waitForLeaders: false,
    });
  }
  const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
  let problem = 'no metadata yet';
  while (Date.now() < deadline) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = metadata.topics[0]?.partitions ?? [];
      if (found.length > 0 && found.every((partition) => partition.leader >= 0)) return found.length;
      problem = `partition leaders ${JSON.stringify(found.map((p) => [p.partitionId, p.leader]))}`;
    } catch (error) {
      if (!(error instanceof KafkaJSError && error.retriable)) throw error;
      problem = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new NightshiftError(
    `Kafka topic ${topic}: no leader for every partition after ${TOPIC_READY_TIMEOUT_MS} ms (${problem})`,
    {
      retriable: true,
    },
  );
}

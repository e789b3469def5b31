// Starts the event triggers the loaded DAGs declare, for `nightshift scheduler`: one Kafka
// consumer per (DAG, topic), each in its own consumer group.
import type { Dag } from '../dag/types.ts';
import { kafkaClient, parseBrokers } from '../data/kafka/client.ts';
import { ConfigError, errorMessage, NightshiftError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';
import {
  type KafkaTriggerEvent,
  type KafkaTriggerSpec,
  type RunningKafkaTrigger,
  startKafkaTrigger,
} from './kafkaTrigger.ts';

export interface DeclaredKafkaTrigger {
  dag: Dag;
  spec: KafkaTriggerSpec;
}

/** Every Kafka trigger the DAGs declare, in DAG then declaration order. */
export function declaredKafkaTriggers(dags: readonly Dag[]): DeclaredKafkaTrigger[] {
  return dags.flatMap((dag) =>
    dag.triggers.map((trigger) => ({
      dag,
      spec: { dagId: dag.id, topic: trigger.kafka.topic, dateField: trigger.kafka.dateField },
    })),
  );
}

/**
 * The brokers the triggers need: `--brokers`, else `KAFKA_BROKERS`. Declared triggers without
 * brokers are an error rather than a warning: a trigger that silently never fires is a night
 * without predictions that nobody notices.
 */
export function brokersForTriggers(
  triggers: readonly DeclaredKafkaTrigger[],
  value: string | undefined,
): string[] {
  if (value === undefined || value.trim() === '') {
    const declared = triggers.map(({ spec }) => `DAG '${spec.dagId}' (topic '${spec.topic}')`).join(', ');
    throw new ConfigError(
      `Kafka triggers are declared by ${declared} but no Kafka brokers are configured: set KAFKA_BROKERS or pass --brokers host:port, or start with --no-triggers to schedule without them`,
    );
  }
  return parseBrokers(value);
}

export interface StartTriggersOptions {
  store: Store;
  triggers: readonly DeclaredKafkaTrigger[];
  brokers: readonly string[];
  clientId?: string;
  /** "Now" for the triggers' date checks (default: the system clock). */
  clock?: Clock;
  onEvent?: (event: KafkaTriggerEvent & { dagId: string }) => void;
  /** A trigger stopped for good after starting (kafkajs gave up restarting its consumer). */
  onFailure?: (error: NightshiftError) => void;
}

export interface RunningTriggers {
  count: number;
  stop(): Promise<void>;
}

/**
 * Checks that every trigger topic exists (a topic name with a typo would otherwise wait
 * forever, or be auto-created by the broker and wait forever), then starts one consumer per
 * trigger. A group without committed offsets reads its topic from the earliest retained
 * message: a message published before the scheduler first started still starts its run, and
 * one for a date that already has a run starts nothing. If one trigger cannot start, those
 * already started are stopped and the error names the DAG and topic.
 */
export async function startDagTriggers(options: StartTriggersOptions): Promise<RunningTriggers> {
  const { triggers } = options;
  if (triggers.length === 0) return { count: 0, stop: async () => {} };
  const kafka = kafkaClient(options.brokers, options.clientId ?? 'nightshift-scheduler');
  const admin = kafka.admin();
  let topics: string[];
  await admin.connect();
  try {
    topics = await admin.listTopics();
  } catch (error) {
    throw new NightshiftError(
      `Kafka triggers: cannot list the topics on ${options.brokers.join(',')}: ${errorMessage(error)}`,
      { retriable: true, cause: error },
    );
  } finally {
    await admin.disconnect();
  }
  const missing = triggers.filter(({ spec }) => !topics.includes(spec.topic));
  if (missing.length > 0) {
    const named = missing.map(({ spec }) => `'${spec.topic}' (DAG '${spec.dagId}')`).join(', ');
    throw new ConfigError(
      `Kafka trigger topic ${named} does not exist on ${options.brokers.join(',')}: create it (kafka-topics.sh --bootstrap-server <broker> --create --topic <name>) or fix the DAG's triggers`,
    );
  }
  const running: RunningKafkaTrigger[] = [];
  const stopAll = async () => {
    await Promise.allSettled(running.map((trigger) => trigger.stop()));
  };
  for (const { dag, spec } of triggers) {
    try {
      running.push(
        await startKafkaTrigger({
          store: options.store,
          dag,
          trigger: spec,
          kafka,
          fromBeginning: true,
          clock: options.clock,
          onEvent: (event) => options.onEvent?.({ ...event, dagId: dag.id }),
          onFailure: (error) =>
            options.onFailure?.(
              new NightshiftError(
                `Kafka trigger of DAG '${dag.id}' on topic '${spec.topic}' stopped: ${error.message}`,
                { retriable: true, cause: error },
              ),
            ),
        }),
      );
    } catch (error) {
      await stopAll();
      throw new NightshiftError(
        `Kafka trigger of DAG '${dag.id}' on topic '${spec.topic}' could not start: ${errorMessage(error)}`,
        { retriable: true, cause: error },
      );
    }
  }
  return { count: running.length, stop: stopAll };
}

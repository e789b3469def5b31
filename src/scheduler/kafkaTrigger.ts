// Starts runs from Kafka messages: each message names a date in one of its JSON fields, and
// starts (creates, queued) the DAG's manual run for that date. A second message for the same
// date starts nothing: the run exists, and the unique (dag_id, logical_date) constraint holds
// even with several trigger consumers in one group or across groups.
import { DateTime } from 'luxon';
import { formatLogicalDate, isIsoDate, parseLogicalDate, runForDay } from '../dag/index.ts';
import type { Dag } from '../dag/types.ts';
import type { KafkaClient } from '../data/kafka/client.ts';
import { errorMessage, UsageError } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';
import { triggerRun } from './trigger.ts';

/** What a DAG declares: `triggers: [{ kafka: { topic, dateField } }]`. */
export interface KafkaTriggerSpec {
  dagId: string;
  topic: string;
  /** The JSON field holding the date: `YYYY-MM-DD`, or an ISO 8601 instant (its date in the DAG's zone). */
  dateField: string;
}

export interface KafkaTriggerEvent {
  topic: string;
  partition: number;
  offset: string;
  outcome: 'created' | 'exists' | 'rejected';
  logicalDate?: string;
  runId?: number;
  /** Why a message was rejected: what was expected and what was found. */
  reason?: string;
}

export interface KafkaTriggerOptions {
  store: Store;
  dag: Dag;
  trigger: KafkaTriggerSpec;
  kafka: KafkaClient;
  /**
   * Default `nightshift-trigger:<dagId>:<topic>`: the trigger consumers of one DAG and topic
   * share its messages. One group per topic, because kafkajs's round-robin assigner hands a
   * member partitions of topics it did not subscribe to when a group's members differ.
   */
  groupId?: string;
  /** Read the topic from its start when the group has no committed offset (default false). */
  fromBeginning?: boolean;
  onEvent?: (event: KafkaTriggerEvent) => void;
  /** "Now", for refusing dates in the future (default: the system clock). */
  clock?: Clock;
  /** The consumer crashed and kafkajs gave up restarting it: this trigger has stopped. */
  onFailure?: (error: Error) => void;
}

export interface RunningKafkaTrigger {
  stop(): Promise<void>;
}

/** The consumer group of a DAG's trigger on a topic (':' appears in neither a DAG id nor a topic). */
export function kafkaTriggerGroupId(dagId: string, topic: string): string {
  return `nightshift-trigger:${dagId}:${topic}`;
}

/** Rejection reasons quote at most this many characters of what a message held. */
const QUOTED_CHARACTERS = 200;

/** A message's text in a reason: quoted, and cut (saying so) when it is long. */
export function quoteForReason(text: string): string {
  if (text.length <= QUOTED_CHARACTERS) return `'${text}'`;
  return `'${text.slice(0, QUOTED_CHARACTERS)}…' (${text.length} characters)`;
}

/** The date a message asks for, or why it cannot be read. */
export function dateFromMessage(
  value: Buffer | null,
  dateField: string,
  timezone: string,
): { date: string } | { reason: string } {
  if (value === null) return { reason: 'empty message: expected a JSON object' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return {
      reason: `not JSON (${quoteForReason(errorMessage(error))}): expected a JSON object with '${dateField}'`,
    };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      reason: `expected a JSON object with '${dateField}', found ${Array.isArray(parsed) ? 'an array' : typeof parsed}`,
    };
  }
  const raw = (parsed as Record<string, unknown>)[dateField];
  if (typeof raw !== 'string') {
    return {
      reason: `field '${dateField}': expected a date string (YYYY-MM-DD), found ${raw === undefined ? 'nothing' : quoteForReason(JSON.stringify(raw))}`,
    };
  }
  if (isIsoDate(raw)) return { date: raw };
  const instant = DateTime.fromISO(raw, { setZone: true });
  if (raw.includes('T') && instant.isValid) {
    return { date: formatLogicalDate(instant.toJSDate(), timezone) };
  }
  return {
    reason: `field '${dateField}': expected YYYY-MM-DD or an ISO 8601 instant, found ${quoteForReason(raw)}`,
  };
}

/**
 * Why a message may not start a run for `date`, if it may not: before the DAG's `startDate`, or
 * in the future (the day, or the run's data interval, has not begun at `now`). A message may
 * say anything; a run for 9999-12-31 would wait forever in the queue, and one for 0001-01-01
 * would read data that was never meant to exist. A day the schedule skips is refused by
 * triggerRun.
 */
export function refusedTriggerDate(
  dag: Pick<Dag, 'id' | 'schedule' | 'timezone' | 'startDate'>,
  date: string,
  now: Date,
): string | undefined {
  if (dag.startDate !== undefined && date < dag.startDate)
    return `${date} is before the DAG's startDate ${dag.startDate}`;
  const future = `${date} is in the future: expected a date whose run has begun by ${now.toISOString()}`;
  if (parseLogicalDate(date, dag.timezone) > now) return future;
  try {
    if (runForDay(dag, date).start > now) return future;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
  }
  return undefined;
}

async function startRunForMessage(
  store: Store,
  dag: Dag,
  trigger: KafkaTriggerSpec,
  value: Buffer | null,
  where: { topic: string; partition: number; offset: string },
  now: Date,
): Promise<KafkaTriggerEvent> {
  const found = dateFromMessage(value, trigger.dateField, dag.timezone);
  if ('reason' in found) return { ...where, outcome: 'rejected', reason: found.reason };
  const refused = refusedTriggerDate(dag, found.date, now);
  if (refused) return { ...where, outcome: 'rejected', logicalDate: found.date, reason: refused };
  try {
    const { run, created } = await triggerRun(store, dag, { date: found.date });
    return { ...where, outcome: created ? 'created' : 'exists', logicalDate: found.date, runId: run.id };
  } catch (error) {
    // A day the schedule skips; anything else (the database) is redelivered.
    if (!(error instanceof UsageError)) throw error;
    return { ...where, outcome: 'rejected', logicalDate: found.date, reason: error.message };
  }
}

/**
 * Consumes the trigger topic and starts one run per date. A message that cannot start a run
 * (not JSON, no date, a day the schedule skips, a date before `startDate` or in the future)
 * is logged with its topic, partition and offset,
 * and skipped; a database error is thrown, so kafkajs redelivers the message.
 */
export async function startKafkaTrigger(options: KafkaTriggerOptions): Promise<RunningKafkaTrigger> {
  const { store, dag, trigger } = options;
  if (trigger.dagId !== dag.id) {
    throw new UsageError(`Kafka trigger for DAG '${trigger.dagId}' given DAG '${dag.id}'`);
  }
  const log = childLogger({ dag: dag.id, component: 'kafka-trigger' });
  const groupId = options.groupId ?? kafkaTriggerGroupId(dag.id, trigger.topic);
  const consumer = options.kafka.consumer({ groupId });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return;
    log.error(
      { topic: trigger.topic, groupId, err: payload.error },
      `Kafka trigger stopped: ${payload.error.message}`,
    );
    options.onFailure?.(payload.error);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: trigger.topic, fromBeginning: options.fromBeginning ?? false });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const where = { topic, partition, offset: message.offset };
        const now = (options.clock ?? (() => new Date()))();
        const event = await startRunForMessage(store, dag, trigger, message.value, where, now);
        if (event.outcome === 'rejected') log.error(event, `trigger message rejected: ${event.reason}`);
        else log.info(event, event.outcome === 'created' ? 'run triggered' : 'run exists; nothing started');
        options.onEvent?.(event);
      },
    });
  } catch (error) {
    await consumer.disconnect().catch(() => {});
    throw error;
  }
  return { stop: () => consumer.disconnect() };
}

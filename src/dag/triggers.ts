import type { DagTrigger } from './types.ts';

// Kafka's own rule (kafka.common.internals.Topic): 1 to 249 of these characters, not '.' or '..'.
const KAFKA_TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;
const TRIGGER_KINDS = ['kafka'] as const;
const KAFKA_TRIGGER_KEYS = ['topic', 'dateField'] as const;

export function isValidKafkaTopic(topic: string): boolean {
  return KAFKA_TOPIC_PATTERN.test(topic) && topic !== '.' && topic !== '..';
}

/**
 * Checks a DAG's `triggers` and returns a copy of them (later changes to the definition object
 * change nothing), with one problem per broken rule, naming the DAG, the trigger and the field.
 */
export function validateTriggers(
  dagId: string,
  declared: unknown,
): { triggers: readonly DagTrigger[]; problems: string[] } {
  if (declared === undefined) return { triggers: [], problems: [] };
  const shape = '[{ kafka: { topic, dateField } }]';
  if (!Array.isArray(declared)) {
    return {
      triggers: [],
      problems: [`DAG '${dagId}': triggers must be an array like ${shape}, found ${describeValue(declared)}`],
    };
  }
  const problems: string[] = [];
  const triggers: DagTrigger[] = [];
  const topics = new Map<string, number>();
  for (const [index, trigger] of declared.entries()) {
    const where = `DAG '${dagId}', trigger #${index + 1}`;
    if (!isPlainObject(trigger)) {
      problems.push(
        `${where}: expected an object like { kafka: { topic, dateField } }, found ${describeValue(trigger)}`,
      );
      continue;
    }
    const kinds = Object.keys(trigger);
    if (kinds.length === 0) {
      problems.push(`${where}: empty: expected { kafka: { topic, dateField } }`);
      continue;
    }
    const unknown = kinds.filter((key) => !(TRIGGER_KINDS as readonly string[]).includes(key));
    if (unknown.length > 0) {
      problems.push(`${where}: unknown key ${quoteAll(unknown)}: expected ${quoteAll(TRIGGER_KINDS)}`);
      continue;
    }
    const kafka = trigger.kafka;
    if (!isPlainObject(kafka)) {
      problems.push(`${where}: kafka must be an object { topic, dateField }, found ${describeValue(kafka)}`);
      continue;
    }
    const before = problems.length;
    const unknownFields = Object.keys(kafka).filter(
      (key) => !(KAFKA_TRIGGER_KEYS as readonly string[]).includes(key),
    );
    if (unknownFields.length > 0) {
      problems.push(
        `${where}: unknown field ${quoteAll(unknownFields.map((key) => `kafka.${key}`))}: expected ${quoteAll(KAFKA_TRIGGER_KEYS.map((key) => `kafka.${key}`))}`,
      );
    }
    const { topic, dateField } = kafka;
    if (typeof topic !== 'string' || !isValidKafkaTopic(topic)) {
      problems.push(
        `${where}: kafka.topic ${describeValue(topic)} is not a valid Kafka topic name: expected 1 to 249 letters, digits, '.', '_' or '-' (not '.' or '..')`,
      );
    } else if (topics.has(topic)) {
      problems.push(`${where}: kafka.topic '${topic}' is already trigger #${topics.get(topic)} of this DAG`);
    }
    if (typeof dateField !== 'string' || dateField.trim() === '') {
      problems.push(
        `${where}: kafka.dateField must name the JSON field holding the date, found ${describeValue(dateField)}`,
      );
    }
    if (problems.length > before) continue;
    topics.set(topic as string, index + 1);
    triggers.push({ kafka: { topic: topic as string, dateField: dateField as string } });
  }
  return { triggers, problems };
}

/** One line per trigger, for listings: `kafka:<topic> (<dateField>)`. */
export function describeTrigger(trigger: DagTrigger): string {
  return `kafka:${trigger.kafka.topic} (${trigger.kafka.dateField})`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quoteAll(keys: readonly string[]): string {
  return keys.map((key) => `'${key}'`).join(', ');
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? typeof value;
  return 'an object';
}

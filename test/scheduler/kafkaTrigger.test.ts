import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDag, listRuns } from '../../src/dag/index.ts';
import { ensureTopic, kafkaClient } from '../../src/data/kafka/client.ts';
import {
  dateFromMessage,
  type KafkaTriggerEvent,
  type RunningKafkaTrigger,
  startKafkaTrigger,
} from '../../src/scheduler/kafkaTrigger.ts';
import { describeWithKafka, kafkaBrokers } from '../helpers/services.ts';
import { openTestEnvironment, type TestEnvironment } from '../helpers/stores.ts';

const dag = defineDag({
  id: 'kafka-triggered',
  description: '',
  schedule: '0 2 * * 1-5',
  timezone: 'Europe/Paris',
  tasks: [{ id: 'a', run: () => 1 }],
});

describe('reading the date of a trigger message', () => {
  const read = (text: string | null) =>
    dateFromMessage(text === null ? null : Buffer.from(text), 'day', 'Europe/Paris');
  it('takes YYYY-MM-DD, or the date of an instant in the DAG time zone, and says why not otherwise', () => {
    expect(read('{"day":"2001-02-05"}')).toEqual({ date: '2001-02-05' });
    expect(read('{"day":"2001-02-05T23:30:00Z"}')).toEqual({ date: '2001-02-06' });
    expect(read('{"day":"2001-02-30"}')).toMatchObject({
      reason: expect.stringMatching(/found '2001-02-30'/),
    });
    expect(read('{"when":"2001-02-05"}')).toMatchObject({
      reason: expect.stringMatching(/field 'day'.*found nothing/),
    });
    expect(read('not json')).toMatchObject({ reason: expect.stringMatching(/^not JSON/) });
    expect(read('[1]')).toMatchObject({ reason: expect.stringMatching(/found an array/) });
    expect(read(null)).toMatchObject({ reason: expect.stringMatching(/empty message/) });
  });
});

describeWithKafka('Kafka trigger on the real broker', () => {
  let env: TestEnvironment;
  let trigger: RunningKafkaTrigger | undefined;
  beforeAll(async () => {
    env = await openTestEnvironment('embedded');
  });
  afterAll(async () => {
    await trigger?.stop();
    await env?.cleanup();
  });

  it('a message starts the run for its date; a second one for that date starts nothing', async () => {
    const brokers = kafkaBrokers() as string[];
    const kafka = kafkaClient(brokers, 'nightshift-trigger-test');
    const topic = `trigger-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopic(admin, topic, 2);
    } finally {
      await admin.disconnect();
    }
    const events: KafkaTriggerEvent[] = [];
    trigger = await startKafkaTrigger({
      store: env.store,
      dag,
      trigger: { dagId: dag.id, topic, dateField: 'day' },
      kafka,
      groupId: `trigger-test-${randomUUID()}`,
      fromBeginning: true,
      onEvent: (event) => events.push(event),
    });
    const producer = kafka.producer();
    await producer.connect();
    try {
      // One partition, so that the outcomes come in the order sent.
      await producer.send({
        topic,
        messages: [
          { partition: 0, value: JSON.stringify({ day: '2001-02-05', source: 'first' }) },
          { partition: 0, value: JSON.stringify({ day: '2001-02-05', source: 'again' }) },
          { partition: 0, value: 'not json' },
          { partition: 0, value: JSON.stringify({ day: '2001-02-03' }) },
          { partition: 0, value: JSON.stringify({ day: '2001-02-06' }) },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const deadline = Date.now() + 30_000;
    while (events.length < 5 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.map((event) => [event.offset, event.outcome, event.logicalDate])).toEqual([
      ['0', 'created', '2001-02-05'],
      ['1', 'exists', '2001-02-05'],
      ['2', 'rejected', undefined],
      // A Saturday: the schedule runs Monday to Friday.
      ['3', 'rejected', '2001-02-03'],
      ['4', 'created', '2001-02-06'],
    ]);
    expect(events[1]?.runId).toBe(events[0]?.runId);
    expect(events[3]?.reason).toMatch(/has no run on 2001-02-03/);
    const runs = await listRuns(env.store, { dagId: dag.id });
    expect(runs.map((run) => [run.runType, run.state])).toEqual([
      ['manual', 'queued'],
      ['manual', 'queued'],
    ]);
  });
});

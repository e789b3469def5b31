import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDag, listRuns } from '../../src/dag/index.ts';
import { ensureTopic, kafkaClient } from '../../src/data/kafka/client.ts';
import {
  dateFromMessage,
  type KafkaTriggerEvent,
  type RunningKafkaTrigger,
  refusedTriggerDate,
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

  it('quotes at most 200 characters of what a message held, saying how long it was', () => {
    const long = 'x'.repeat(100_000);
    for (const text of [`{"day":"${long}"}`, `{"day":{"nested":"${long}"}}`, `not json ${long}`]) {
      const found = read(text);
      expect('reason' in found && found.reason.length, text.slice(0, 30)).toBeLessThan(400);
    }
    expect(read(`{"day":"${long}"}`)).toMatchObject({
      reason: expect.stringMatching(/…' \(100000 characters\)$/),
    });
    expect(read('{"day":"yesterday"}')).toMatchObject({
      reason: expect.stringMatching(/found 'yesterday'$/),
    });
  });
});

describe('the dates a trigger message may ask for', () => {
  const daily = defineDag({
    id: 'bounded',
    description: '',
    schedule: '0 2 * * *',
    timezone: 'UTC',
    startDate: '2001-01-01',
    tasks: [{ id: 'a', run: () => 1 }],
  });
  const now = new Date('2001-03-10T12:00:00Z');
  it('refuses a date before startDate or whose run has not begun, and accepts the others', () => {
    expect(refusedTriggerDate(daily, '0001-01-01', now)).toBe(
      "0001-01-01 is before the DAG's startDate 2001-01-01",
    );
    expect(refusedTriggerDate(daily, '2000-12-31', now)).toMatch(/before the DAG's startDate/);
    expect(refusedTriggerDate(daily, '9999-12-31', now)).toMatch(/^9999-12-31 is in the future/);
    expect(refusedTriggerDate(daily, '2001-03-11', now)).toMatch(/in the future/);
    // The day has begun but its interval starts at 02:00.
    expect(refusedTriggerDate(daily, '2001-03-10', new Date('2001-03-10T01:00:00Z'))).toMatch(
      /in the future/,
    );
    for (const date of ['2001-01-01', '2001-03-09', '2001-03-10'])
      expect(refusedTriggerDate(daily, date, now), date).toBeUndefined();
    // Without a startDate only the future is refused.
    expect(refusedTriggerDate(dag, '0001-01-01', now)).toBeUndefined();
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

  it('refuses dates before startDate or in the future, and quotes little of a hostile message', async () => {
    const bounded = defineDag({
      id: 'kafka-bounded',
      description: '',
      schedule: '0 2 * * *',
      timezone: 'UTC',
      startDate: '2001-01-01',
      tasks: [{ id: 'a', run: () => 1 }],
    });
    const kafka = kafkaClient(kafkaBrokers() as string[], 'nightshift-trigger-test');
    const topic = `trigger-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopic(admin, topic, 1);
    } finally {
      await admin.disconnect();
    }
    const events: KafkaTriggerEvent[] = [];
    const running = await startKafkaTrigger({
      store: env.store,
      dag: bounded,
      trigger: { dagId: bounded.id, topic, dateField: 'day' },
      kafka,
      groupId: `trigger-test-${randomUUID()}`,
      fromBeginning: true,
      clock: () => new Date('2001-03-10T12:00:00Z'),
      onEvent: (event) => events.push(event),
    });
    try {
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({
          topic,
          messages: [
            { value: JSON.stringify({ day: '0001-01-01' }) },
            { value: JSON.stringify({ day: '9999-12-31' }) },
            { value: JSON.stringify({ day: 'z'.repeat(50_000) }) },
            { value: JSON.stringify({ day: '2001-03-09' }) },
          ],
        });
      } finally {
        await producer.disconnect();
      }
      const deadline = Date.now() + 30_000;
      while (events.length < 4 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await running.stop();
    }
    expect(events.map((event) => [event.offset, event.outcome, event.logicalDate])).toEqual([
      ['0', 'rejected', '0001-01-01'],
      ['1', 'rejected', '9999-12-31'],
      ['2', 'rejected', undefined],
      ['3', 'created', '2001-03-09'],
    ]);
    expect(events[0]?.reason).toMatch(/before the DAG's startDate 2001-01-01/);
    expect(events[1]?.reason).toMatch(/in the future/);
    expect(events[2]?.reason?.length).toBeLessThan(400);
    expect(events[2]?.reason).toMatch(/\(50000 characters\)/);
    const runs = await listRuns(env.store, { dagId: bounded.id });
    expect(runs.map((run) => run.id)).toEqual([events[3]?.runId]);
  });
});

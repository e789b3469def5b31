// `nightshift scheduler` consumes the Kafka triggers its DAGs declare: real scheduler processes,
// a real broker, real Postgres.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatLogicalDate, listRuns, listTaskInstances } from '../../src/dag/index.ts';
import { ensureTopic, type KafkaClient, kafkaClient } from '../../src/data/kafka/client.ts';
import { kafkaTriggerGroupId } from '../../src/scheduler/kafkaTrigger.ts';
import { repoRoot, runCli, type Spawned, spawnCli } from '../helpers/child.ts';
import { describeWithKafka, describeWithPostgres, kafkaBrokers } from '../helpers/services.ts';
import { openTestEnvironment, type TestEnvironment, tempDagsDir } from '../helpers/stores.ts';

const defineDagPath = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));

function writeTriggeredDag(dir: string, id: string, topic: string): void {
  fs.writeFileSync(
    path.join(dir, `${id}.ts`),
    `import { defineDag } from ${defineDagPath};
export default defineDag({ id: ${JSON.stringify(id)}, description: 'runs when a day is announced', timezone: 'UTC',
  triggers: [{ kafka: { topic: ${JSON.stringify(topic)}, dateField: 'day' } }],
  tasks: [{ id: 'a', run: ({ ds }) => ds }] });\n`,
  );
}

describeWithKafka('Kafka triggers of nightshift scheduler', () => {
  describeWithPostgres('on the real broker and Postgres', () => {
    let env: TestEnvironment;
    let dagsDir: string;
    let kafka: KafkaClient;
    let brokers: string;
    const topic = `trigger-cli-${randomUUID()}`;
    const running: Spawned[] = [];

    const produce = async (value: object) => {
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({ topic, messages: [{ partition: 0, value: JSON.stringify(value) }] });
      } finally {
        await producer.disconnect();
      }
    };
    const startScheduler = async (): Promise<Spawned> => {
      const scheduler = spawnCli(['scheduler', '--poll-ms', '200'], {
        ...env.env,
        NIGHTSHIFT_DAGS: dagsDir,
        KAFKA_BROKERS: brokers,
      });
      running.push(scheduler);
      await scheduler.waitFor(`listening to Kafka topic ${topic} for DAG announced (date in 'day')`);
      return scheduler;
    };
    const stop = async (scheduler: Spawned) => {
      scheduler.child.kill('SIGTERM');
      return scheduler.exited;
    };

    beforeAll(async () => {
      env = await openTestEnvironment('postgres');
      brokers = (kafkaBrokers() as string[]).join(',');
      kafka = kafkaClient(kafkaBrokers() as string[], 'nightshift-trigger-cli-test');
      const admin = kafka.admin();
      await admin.connect();
      try {
        await ensureTopic(admin, topic, 1);
      } finally {
        await admin.disconnect();
      }
      dagsDir = tempDagsDir();
      writeTriggeredDag(dagsDir, 'announced', topic);
    });
    afterAll(async () => {
      for (const scheduler of running) if (scheduler.child.exitCode === null) scheduler.child.kill('SIGKILL');
      await env?.cleanup();
      if (dagsDir) fs.rmSync(dagsDir, { recursive: true, force: true });
    });

    it('a message starts the run for its date; a second one for that date starts nothing', async () => {
      const scheduler = await startScheduler();
      await produce({ day: '2001-02-05', source: 'first' });
      await scheduler.waitFor('triggered run');
      expect(scheduler.stdout()).toMatch(
        new RegExp(`^triggered run \\d+ of announced for 2001-02-05 \\(message ${topic}/0@0\\)$`, 'm'),
      );
      // The scheduler executes it too.
      await scheduler.waitFor('of announced for 2001-02-05: success');

      await produce({ day: '2001-02-05', source: 'again' });
      await scheduler.waitFor(`exists: message ${topic}/0@1 started nothing`);

      const runs = await listRuns(env.store, { dagId: 'announced' });
      expect(runs.map((run) => [formatLogicalDate(run.logicalDate, 'UTC'), run.runType, run.state])).toEqual([
        ['2001-02-05', 'manual', 'success'],
      ]);
      const tasks = await listTaskInstances(env.store, runs[0]?.id as number);
      expect(tasks.map((task) => [task.taskId, task.state, task.tryNumber, task.outputs])).toEqual([
        ['a', 'success', 1, '2001-02-05'],
      ]);

      // SIGTERM stops the consumer cleanly: it leaves its group with both offsets committed.
      expect(await stop(scheduler)).toEqual({ code: 0, signal: null });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const groupId = kafkaTriggerGroupId('announced', topic);
        const { groups } = await admin.describeGroups([groupId]);
        expect(groups.map((group) => [group.state, group.members.length])).toEqual([['Empty', 0]]);
        const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
        expect(offsets).toEqual([{ topic, partitions: [{ partition: 0, offset: '2', metadata: null }] }]);
      } finally {
        await admin.disconnect();
      }
    });

    it('a restarted scheduler resumes after the committed messages and starts new dates', async () => {
      const scheduler = await startScheduler();
      await produce({ day: '2001-02-06' });
      await scheduler.waitFor('of announced for 2001-02-06: success');
      // Messages 0 and 1 were committed before the restart: nothing printed about them again.
      expect(scheduler.stdout()).not.toMatch(new RegExp(`${topic}/0@[01]\\)?\\b`));
      expect(scheduler.stdout()).toMatch(
        new RegExp(`triggered run \\d+ of announced for 2001-02-06 \\(message ${topic}/0@2\\)`),
      );
      expect(await stop(scheduler)).toEqual({ code: 0, signal: null });
      const runs = await listRuns(env.store, { dagId: 'announced' });
      expect(runs.map((run) => formatLogicalDate(run.logicalDate, 'UTC')).sort()).toEqual([
        '2001-02-05',
        '2001-02-06',
      ]);
    });

    it('refuses to start when a DAG declares a trigger and no brokers are configured', async () => {
      const result = await runCli(['scheduler'], { ...env.env, NIGHTSHIFT_DAGS: dagsDir, KAFKA_BROKERS: '' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `error: Kafka triggers are declared by DAG 'announced' (topic '${topic}') but no Kafka brokers are configured: set KAFKA_BROKERS or pass --brokers host:port, or start with --no-triggers`,
      );
    });

    it('--no-triggers and --once schedule without brokers', async () => {
      const env0 = { ...env.env, NIGHTSHIFT_DAGS: dagsDir, KAFKA_BROKERS: '' };
      const once = await runCli(['scheduler', '--once'], env0);
      expect([once.code, once.stderr]).toEqual([0, '']);
      const connections = async () =>
        (
          await env.store.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()',
          )
        ).rows[0]?.n ?? 0;
      const before = await connections();
      const scheduler = spawnCli(['scheduler', '--no-triggers', '--poll-ms', '200'], env0);
      running.push(scheduler);
      // Started (it connects to the store after installing its signal handlers: a loaded machine
      // takes several seconds to get there), then still running after a few passes.
      const deadline = Date.now() + 60_000;
      while ((await connections()) <= before && scheduler.child.exitCode === null) {
        if (Date.now() > deadline) throw new Error(`the scheduler never connected: ${scheduler.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(scheduler.child.exitCode, scheduler.stderr()).toBeNull();
      expect(await stop(scheduler)).toEqual({ code: 0, signal: null });
      expect(scheduler.stdout()).not.toMatch(/listening to Kafka/);
    });

    it('refuses to start when a trigger topic does not exist, naming it and its DAG', async () => {
      const dir = tempDagsDir();
      try {
        const missing = `trigger-missing-${randomUUID()}`;
        writeTriggeredDag(dir, 'typo', missing);
        const result = await runCli(['scheduler'], {
          ...env.env,
          NIGHTSHIFT_DAGS: dir,
          KAFKA_BROKERS: brokers,
        });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          `error: Kafka trigger topic '${missing}' (DAG 'typo') does not exist on ${brokers}`,
        );
        const admin = kafka.admin();
        await admin.connect();
        try {
          // Not created as a side effect of looking.
          expect(await admin.listTopics()).not.toContain(missing);
        } finally {
          await admin.disconnect();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

import { randomUUID } from 'node:crypto';
import path from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sqlString } from '../../src/data/duckdb.ts';
import { dayInterval, importDataset, type KafkaIngestResult, listPartitions } from '../../src/data/index.ts';
import { kafkaClient } from '../../src/data/kafka/client.ts';
import { runCli } from '../helpers/child.ts';
import { describeWithKafka, kafkaBrokers } from '../helpers/services.ts';
import { parquetOf, query, tempDir } from './helpers.ts';

const { Partitioners } = kafkajs;

/**
 * A user's own dataset (not flights) through Kafka, as a user runs it: `data import` records its
 * contract (an INTEGER id, a TIMESTAMPTZ event time whose days are Paris days, a FLOAT), then
 * `kafka replay` publishes it and `kafka ingest` writes a day back with the same rows and types.
 * A resent event (same id) is kept once, the newest copy.
 */
describeWithKafka('kafka replay and ingest of an imported dataset', () => {
  let brokers: string[];
  let root: string;
  let env: Record<string, string>;
  const topic = `shop-${randomUUID()}`;
  const resentTopic = `shop-resent-${randomUUID()}`;

  beforeAll(async () => {
    brokers = kafkaBrokers() as string[];
    root = await tempDir('kafka-dataset');
    env = {
      NIGHTSHIFT_DATA: path.join(root, 'data'),
      NIGHTSHIFT_HOME: path.join(root, 'home'),
      KAFKA_BROKERS: brokers.join(','),
      DATABASE_URL: '',
    };
    const source = path.join(root, 'orders.parquet');
    // 300 orders every 12 minutes from 2024-01-01 00:00 UTC: Paris days 1 and 2 (UTC+1), some of the 3rd.
    await query(
      `COPY (SELECT i::INTEGER AS order_id,
          TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i * 12) MINUTE AS placed_at,
          (i * 0.25)::FLOAT AS amount, 'shop-' || (i % 3) AS shop
        FROM range(300) t(i)) TO ${sqlString(source)} (FORMAT parquet)`,
    );
    await importDataset({
      dataDir: env.NIGHTSHIFT_DATA as string,
      dataset: 'orders',
      inputs: [source],
      dateColumn: 'placed_at',
      idColumn: 'order_id',
      timezone: 'Europe/Paris',
    });
  });

  afterAll(async () => {
    const admin = kafkaClient(brokers, 'nightshift-test').admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, resentTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('replays and ingests a day with the same rows and column types as the imported partition', async () => {
    const replay = await runCli(
      ['kafka', 'replay', 'orders', '--topic', topic, '--from', '2024-01-01', '--to', '2024-01-03'],
      env,
    );
    expect(replay.stderr).not.toMatch(/^error/m);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(new RegExp(`^published 300 orders events to ${topic} in`));

    const ingest = await runCli(
      ['kafka', 'ingest', 'orders', '--topic', topic, '--date', '2024-01-02', '--json'],
      env,
    );
    expect(ingest.stderr).not.toMatch(/^error/m);
    expect(ingest.code).toBe(0);
    const result = JSON.parse(ingest.stdout) as KafkaIngestResult;
    // Paris day 2024-01-02 is 2024-01-01 23:00 to 2024-01-02 23:00 UTC: 120 orders.
    expect([result.status, result.messages, result.rows, result.errorRows, result.duplicateRows]).toEqual([
      'written',
      120,
      120,
      0,
      0,
    ]);
    const [imported] = await listPartitions(path.join(env.NIGHTSHIFT_DATA as string, 'orders'), {
      from: '2024-01-02',
      to: '2024-01-02',
    });
    const [ingested] = await listPartitions(path.join(env.NIGHTSHIFT_DATA as string, 'orders-events'));
    expect(ingested?.date).toBe('2024-01-02');
    expect(ingested?.manifest.schema).toEqual(imported?.manifest.schema);
    expect(ingested?.manifest.schema.map((c) => c.type)).toEqual([
      'INTEGER',
      'TIMESTAMP WITH TIME ZONE',
      'FLOAT',
      'VARCHAR',
    ]);
    const a = parquetOf(imported?.files[0] as string);
    const b = parquetOf(ingested?.files[0] as string);
    expect(
      await query(
        `SELECT (SELECT count(*) FROM (FROM ${a} EXCEPT ALL FROM ${b}))::INTEGER, (SELECT count(*) FROM (FROM ${b} EXCEPT ALL FROM ${a}))::INTEGER`,
      ),
    ).toEqual([[0, 0]]);
  });

  it('keeps one row per id when an event is resent: the newest copy, and reports the duplicate', async () => {
    // The day replayed, then its producer resends order 150 (2024-01-02 06:00 UTC, Paris day 2)
    // twice, the last time with a corrected amount, while the day is still open.
    const replay = await runCli(
      ['kafka', 'replay', 'orders', '--topic', resentTopic, '--from', '2024-01-02', '--to', '2024-01-02'],
      env,
    );
    expect(replay.code).toBe(0);
    const { startMs } = dayInterval('2024-01-02', 'Europe/Paris');
    const producer = kafkaClient(brokers, 'nightshift-test').producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const event = (amount: number) =>
      JSON.stringify({ order_id: 150, placed_at: '2024-01-02T06:00:00.000Z', amount, shop: 'shop-0' });
    for (const amount of [37.5, 40.25]) {
      await producer.send({
        topic: resentTopic,
        acks: -1,
        messages: [{ key: '150', value: event(amount), timestamp: String(startMs + 21 * 3_600_000) }],
      });
    }
    await producer.disconnect();

    const ingest = await runCli(
      ['kafka', 'ingest', 'orders', '--topic', resentTopic, '--date', '2024-01-02', '--into', 'resent'],
      env,
    );
    expect(ingest.stderr).not.toMatch(/^error/m);
    expect(ingest.code).toBe(0);
    expect(ingest.stdout).toBe(
      `${resentTopic} 2024-01-02: 120 rows written, 2 duplicates dropped (same order_id, last write wins), 0 bad messages\n`,
    );
    const [ingested] = await listPartitions(path.join(env.NIGHTSHIFT_DATA as string, 'resent'));
    expect(
      await query(
        `SELECT count(*)::INTEGER, count(DISTINCT order_id)::INTEGER, max(amount) FILTER (WHERE order_id = 150)
         FROM ${parquetOf(ingested?.files[0] as string)}`,
      ),
    ).toEqual([[120, 120, 40.25]]);
  });

  it('names the missing contract of an unknown dataset', async () => {
    const ingest = await runCli(
      ['kafka', 'ingest', 'nothing', '--topic', topic, '--date', '2024-01-02'],
      env,
    );
    expect(ingest.code).not.toBe(0);
    expect(ingest.stderr).toContain("dataset 'nothing': no event contract at");
    expect(ingest.stderr).toContain('nightshift data import nothing');
  });
});

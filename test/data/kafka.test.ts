import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sha256File } from '../../src/data/hash.ts';
import {
  errorSinkFor,
  flightsKafkaSourceOptions,
  kafkaSource,
  listPartitions,
  prepareFlights,
  replayFlights,
} from '../../src/data/index.ts';
import { ensureTopic, kafkaClient } from '../../src/data/kafka/client.ts';
import { DataError } from '../../src/errors.ts';
import { describeWithKafka, kafkaBrokers } from '../helpers/services.ts';
import { query, tempDir } from './helpers.ts';

const { Partitioners } = kafkajs;

describeWithKafka('kafka replay and ingest', () => {
  let brokers: string[];
  let dataDir: string;
  let home: string;
  const topic = `flights-${randomUUID()}`;
  const badTopic = `flights-bad-${randomUUID()}`;

  beforeAll(async () => {
    brokers = kafkaBrokers() as string[];
    dataDir = await tempDir('kafka');
    home = path.join(dataDir, '.nightshift');
    await prepareFlights({ dataDir, from: '2001-01-02', to: '2001-01-03' });
    const replayed = await replayFlights({ brokers, topic, dataDir, from: '2001-01-02', to: '2001-01-03' });
    expect(replayed.messages).toBe(16_850 + 16_948);
  });

  afterAll(async () => {
    const admin = kafkaClient(brokers, 'nightshift-test').admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, badTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates the replay topic without time-based retention, since its events are dated 2001', async () => {
    const admin = kafkaClient(brokers, 'nightshift-test').admin();
    await admin.connect();
    const described = await admin.describeConfigs({
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    await admin.disconnect();
    expect(described.resources[0]?.configEntries[0]?.configValue).toBe('-1');
  });

  it('ingests a day with the same count and content as the Parquet source, byte for byte', async () => {
    const source = kafkaSource(flightsKafkaSourceOptions(topic));
    for (const date of ['2001-01-02', '2001-01-03']) {
      const result = await source.ingest({ brokers, datasetDir: path.join(dataDir, 'events'), date });
      const [prepared] = await listPartitions(path.join(dataDir, 'flights'), { from: date, to: date });
      expect([result.status, result.messages, result.rows, result.errorRows]).toEqual([
        'written',
        prepared?.manifest.rowCount,
        prepared?.manifest.rowCount,
        0,
      ]);
      const ingestedFile = path.join(dataDir, 'events', `date=${date}`, 'part-0.parquet');
      const [[missing, extra]] = (await query(
        `SELECT (SELECT count(*) FROM (FROM read_parquet('${prepared?.files[0]}') EXCEPT ALL FROM read_parquet('${ingestedFile}'))),
                (SELECT count(*) FROM (FROM read_parquet('${ingestedFile}') EXCEPT ALL FROM read_parquet('${prepared?.files[0]}')))`,
      )) as [[bigint, bigint]];
      expect([Number(missing), Number(extra)]).toEqual([0, 0]);
      expect(await sha256File(ingestedFile)).toBe(await sha256File(prepared?.files[0] as string));
    }
  });

  it('reruns without a second copy', async () => {
    const source = kafkaSource(flightsKafkaSourceOptions(topic));
    const datasetDir = path.join(dataDir, 'rerun');
    const first = await source.ingest({ brokers, datasetDir, date: '2001-01-03' });
    const second = await source.ingest({ brokers, datasetDir, date: '2001-01-03' });
    expect([first.status, second.status]).toEqual(['written', 'unchanged']);
    expect(second.rows).toBe(first.rows);
    expect(await readdir(path.join(datasetDir, 'date=2001-01-03'))).toEqual([
      '_manifest.json',
      'part-0.parquet',
    ]);
    const [[rows]] = (await query(`SELECT count(*) FROM read_parquet('${datasetDir}/*/*.parquet')`)) as [
      [bigint],
    ];
    expect(Number(rows)).toBe(16_948);
  });

  it('sends malformed and schema-violating messages to the error sink with topic, partition and offset', async () => {
    const kafka = kafkaClient(brokers, 'nightshift-test');
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopic(admin, badTopic, 1, { 'retention.ms': '-1' });
    await admin.disconnect();
    const at = Date.parse('2001-01-05T10:00:00Z');
    const flight = (id: number, overrides: Record<string, unknown> = {}) =>
      JSON.stringify({
        flight_id: id,
        departure_time: '2001-01-05 10:00:00',
        delay: 3,
        distance: 500,
        origin: 'SFO',
        destination: 'LAX',
        ...overrides,
      });
    const values = [
      flight(1),
      '{"flight_id": 2, "departure_ti',
      flight(3, { delay: 'late' }),
      flight(4),
      flight(5, { departure_time: '2001-01-06 10:00:00' }),
      flight(6),
    ];
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: badTopic,
      messages: values.map((value, index) => ({ key: String(index), value, timestamp: String(at + index) })),
    });
    await producer.disconnect();

    const source = kafkaSource(flightsKafkaSourceOptions(badTopic));
    const sink = errorSinkFor(home, 'kafka-test', 'ingest');
    const datasetDir = path.join(dataDir, 'bad');
    const strict = source.ingest({ brokers, datasetDir, date: '2001-01-05', errorSink: sink });
    await expect(strict).rejects.toThrow(DataError);
    await expect(strict).rejects.toThrow('3 of 6 messages (50.00%) broke the message contract');
    expect(await listPartitions(datasetDir)).toEqual([]);

    const result = await source.ingest({
      brokers,
      datasetDir,
      date: '2001-01-05',
      errorSink: sink,
      maxErrorRate: 0.5,
    });
    expect([result.messages, result.rows, result.errorRows]).toEqual([6, 3, 3]);
    const rows = await query(
      `SELECT reason, topic, "partition", "offset" FROM read_parquet('${result.errorFile}') ORDER BY "offset"`,
    );
    expect(rows.map((row) => [row[1], row[2], Number(row[3])])).toEqual([
      [badTopic, 0, 1],
      [badTopic, 0, 2],
      [badTopic, 0, 4],
    ]);
    expect(String(rows[0]?.[0])).toMatch(/^malformed JSON/);
    expect(rows[1]?.[0]).toBe(`field 'delay': expected an integer, found string "late"`);
    expect(String(rows[2]?.[0])).toMatch(/^field 'departure_time': event time outside the interval/);
    const ids = await query(
      `SELECT flight_id FROM read_parquet('${datasetDir}/date=2001-01-05/part-0.parquet') ORDER BY 1`,
    );
    expect(ids.map((row) => Number(row[0]))).toEqual([1, 4, 6]);
  });
});

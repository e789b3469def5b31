import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import { addDays, type Day, dayStartMs } from '../dates.ts';
import { sqlIdentifier, sqlString, withDuckSession } from '../duckdb.ts';
import { type ErrorSink, writeErrorFile } from '../errorSink.ts';
import { DEFAULT_MAX_ERROR_RATE } from '../features/validate.ts';
import type { PartitionManifest } from '../manifest.ts';
import { PARTITION_ROW_GROUP_ROWS, type PartitionWriteStatus, writePartition } from '../partitions.ts';
import { kafkaClient } from './client.ts';
import { consumeRanges, type OffsetRange, offsetsForInterval } from './consume.ts';
import { type MessageSchema, parseJsonMessage } from './messages.ts';
import { createStagingTables, type StagingTables } from './tables.ts';

export interface KafkaSourceOptions {
  topic: string;
  format: 'json';
  /** Dataset name written in manifests, e.g. `flights`. */
  dataset: string;
  /** The message contract: each field and its type, in the order of the Parquet columns. */
  columns: MessageSchema;
  /**
   * A TIMESTAMP column holding the event time. Messages are selected by their Kafka timestamps;
   * when this is set, a message whose event time falls outside the interval breaks the contract.
   */
  timestampField?: string;
  /**
   * Row order of the written partition; Kafka partition and offset break ties. Ordering by an
   * id makes the partition independent of how the topic was partitioned.
   */
  orderBy?: readonly string[];
  /**
   * The column identifying an event: a day's partition keeps one row per id. Last write wins:
   * the copy with the highest offset (then partition) is kept. A producer that resends an event
   * after a timeout sends the same payload again, and one that corrects an event sends the
   * correction later: either way the newest copy is the one the producer meant. Keyed by the id
   * (as replay does), every copy of an event is in one Kafka partition, where offsets are the
   * order of sends.
   */
  idColumn?: string;
  /**
   * DuckDB types the partition's columns are written with (the dataset contract's), when they
   * differ from the message types (say INTEGER for a BIGINT field, TIMESTAMPTZ for TIMESTAMP).
   */
  columnTypes?: Readonly<Record<string, string>>;
}

export interface KafkaIngestRequest {
  brokers: readonly string[];
  /** Partitions are written to `<datasetDir>/date=D/`. */
  datasetDir: string;
  /** The day written; the interval defaults to [D 00:00 UTC, D+1 00:00 UTC). */
  date: Day;
  interval?: { startMs: number; endMs: number };
  errorSink?: ErrorSink;
  /** Fraction of bad messages above which nothing is written and ingest fails; default 0.01. */
  maxErrorRate?: number;
  /** Give up when no message arrives for this long while offsets remain; default 30 s. */
  idleTimeoutMs?: number;
}

export interface KafkaIngestResult {
  date: Day;
  status: PartitionWriteStatus;
  /** Messages in the interval, good and bad. */
  messages: number;
  rows: number;
  errorRows: number;
  /** Valid messages dropped as copies of an event with the same id (see `idColumn`). */
  duplicateRows: number;
  errorFile: string | undefined;
  offsets: { partition: number; start: string; end: string }[];
  manifest: PartitionManifest;
}

export interface KafkaSource {
  readonly topic: string;
  ingest(request: KafkaIngestRequest): Promise<KafkaIngestResult>;
}

/**
 * A topic of JSON events as a source of daily partitions. Ingesting a day reads exactly the
 * offsets whose timestamps fall in the interval, so a rerun reads the same messages and
 * writes the same partition (replacing it, never adding a second copy).
 */
export function kafkaSource(options: KafkaSourceOptions): KafkaSource {
  const columns = Object.keys(options.columns);
  if (options.idColumn !== undefined && !(options.idColumn in options.columns))
    throw new DataError(`kafkaSource ${options.topic}: idColumn '${options.idColumn}' is not a column`);
  for (const column of options.orderBy ?? []) {
    if (!(column in options.columns))
      throw new DataError(`kafkaSource ${options.topic}: orderBy column '${column}' is not a column`);
  }
  if (options.timestampField !== undefined && options.columns[options.timestampField] !== 'TIMESTAMP') {
    throw new DataError(
      `kafkaSource ${options.topic}: timestampField '${options.timestampField}' must be a TIMESTAMP column`,
    );
  }
  return {
    topic: options.topic,
    ingest: (request) => ingestInterval(options, columns, request),
  };
}

async function ingestInterval(
  source: KafkaSourceOptions,
  columns: readonly string[],
  request: KafkaIngestRequest,
): Promise<KafkaIngestResult> {
  const { topic } = source;
  const startMs = request.interval?.startMs ?? dayStartMs(request.date);
  const endMs = request.interval?.endMs ?? dayStartMs(addDays(request.date, 1));
  const log = childLogger({ component: 'data', topic, date: request.date });
  const kafka = kafkaClient(request.brokers, 'nightshift-ingest');
  const admin = kafka.admin();
  await admin.connect();
  let ranges: OffsetRange[];
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      throw new DataError(
        `topic ${topic}: expected an existing topic on ${request.brokers.join(',')}, found none`,
      );
    }
    ranges = await offsetsForInterval(admin, topic, startMs, endMs);
  } finally {
    await admin.disconnect();
  }
  const eventTimeIndex = source.timestampField === undefined ? -1 : columns.indexOf(source.timestampField);
  const [startMicros, endMicros] = [BigInt(startMs) * 1000n, BigInt(endMs) * 1000n];

  return withDuckSession(async (connection) => {
    const staging = await createStagingTables(connection, source.columns, columns);
    try {
      let messages = 0;
      let errorRows = 0;
      await consumeRanges(
        kafka,
        topic,
        ranges,
        ({ partition, offset, value }) => {
          messages++;
          const parsed = parseJsonMessage(value, source.columns, columns);
          let reason = parsed.ok ? undefined : parsed.reason;
          if (parsed.ok && eventTimeIndex >= 0) {
            const micros = parsed.values[eventTimeIndex] as bigint;
            if (micros < startMicros || micros >= endMicros) {
              reason = `field '${source.timestampField}': event time outside the interval [${new Date(startMs).toISOString()}, ${new Date(endMs).toISOString()})`;
            }
          }
          if (reason === undefined && parsed.ok) staging.appendRow(parsed.values, partition, offset);
          else {
            errorRows++;
            staging.appendError(value, reason ?? 'invalid', topic, partition, offset);
          }
        },
        request.idleTimeoutMs ?? 30_000,
      );
      staging.flush();
      const errorFile = await sinkBadMessages(connection, staging, request, errorRows);
      const maxErrorRate = request.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
      if (messages > 0 && errorRows / messages > maxErrorRate) {
        throw new DataError(
          `topic ${topic}, ${request.date}: ${errorRows} of ${messages} messages (${((100 * errorRows) / messages).toFixed(2)}%) ` +
            `broke the message contract, more than maxErrorRate ${(100 * maxErrorRate).toFixed(2)}%; nothing written; ` +
            (errorFile ? `see ${errorFile}` : 'no error sink was given'),
        );
      }
      const duplicateRows = await countDuplicates(connection, staging, source.idColumn);
      const result = await writePartition(connection, {
        datasetDir: request.datasetDir,
        dataset: source.dataset,
        date: request.date,
        inputs: { topic, offsets: ranges.map((r) => `${r.partition}:${r.start}-${r.end}`).join(',') },
        writeFiles: (tempDir) => copyRows(connection, staging, source, columns, `${tempDir}/part-0.parquet`),
      });
      log.info(
        { messages, rows: result.manifest.rowCount, errorRows, duplicateRows, status: result.status },
        'kafka interval ingested',
      );
      if (messages === 0) {
        // Legitimate for a quiet day, but also what retention (counted from message timestamps) leaves.
        log.warn(
          { offsets: result.manifest.inputs.offsets },
          'no messages in the interval: the partition is empty',
        );
      }
      return {
        date: request.date,
        status: result.status,
        messages,
        rows: result.manifest.rowCount,
        errorRows,
        duplicateRows,
        errorFile,
        offsets: ranges.map((range) => ({
          partition: range.partition,
          start: String(range.start),
          end: String(range.end),
        })),
        manifest: result.manifest,
      };
    } finally {
      await staging.drop();
    }
  });
}

/**
 * One row per id (the newest copy: see `idColumn`), in a total order (ending in partition and
 * offset): the same messages always give the same bytes. Columns are cast to `columnTypes`.
 */
async function copyRows(
  connection: DuckDBConnection,
  staging: StagingTables,
  source: KafkaSourceOptions,
  columns: readonly string[],
  target: string,
): Promise<void> {
  const order = [...(source.orderBy ?? []).map(sqlIdentifier), '__partition', '__offset'].join(', ');
  const selected = columns.map((column) =>
    castTo(column, source.columns[column], source.columnTypes?.[column]),
  );
  const newest =
    source.idColumn === undefined
      ? ''
      : `QUALIFY row_number() OVER (PARTITION BY ${sqlIdentifier(source.idColumn)} ORDER BY __offset DESC, __partition DESC) = 1`;
  await connection.run(
    `COPY (SELECT ${selected.join(', ')} FROM (SELECT * FROM ${staging.rowsTable} ${newest}) ORDER BY ${order})
     TO ${sqlString(target)} (FORMAT parquet, ROW_GROUP_SIZE ${PARTITION_ROW_GROUP_ROWS})`,
  );
}

function castTo(column: string, messageType: string | undefined, type: string | undefined): string {
  const name = sqlIdentifier(column);
  if (type === undefined || type === messageType) return name;
  // Message timestamps are UTC: an instant column reads them as such, whatever DuckDB's TimeZone.
  if (type === 'TIMESTAMP WITH TIME ZONE' && messageType === 'TIMESTAMP')
    return `timezone('UTC', ${name}) AS ${name}`;
  return `CAST(${name} AS ${type}) AS ${name}`;
}

async function countDuplicates(
  connection: DuckDBConnection,
  staging: StagingTables,
  idColumn: string | undefined,
): Promise<number> {
  if (idColumn === undefined) return 0;
  const reader = await connection.runAndReadAll(
    `SELECT (count(*) - count(DISTINCT ${sqlIdentifier(idColumn)}))::BIGINT FROM ${staging.rowsTable}`,
  );
  return Number(reader.getRows()[0]?.[0] ?? 0);
}

async function sinkBadMessages(
  connection: DuckDBConnection,
  staging: StagingTables,
  request: KafkaIngestRequest,
  errorRows: number,
): Promise<string | undefined> {
  if (request.errorSink === undefined) return undefined;
  const select = `SELECT raw, reason, NULL::VARCHAR AS source_file, NULL::BIGINT AS source_row, topic, "partition", "offset"
    FROM ${staging.errorsTable} ORDER BY "partition", "offset"`;
  return writeErrorFile(connection, request.errorSink, request.date, select, errorRows);
}

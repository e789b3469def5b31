import { randomBytes } from 'node:crypto';
import { type DuckDBAppender, type DuckDBConnection, DuckDBTimestampValue } from '@duckdb/node-api';
import { sqlIdentifier } from '../duckdb.ts';
import type { MessageColumnType, MessageSchema, MessageValue } from './messages.ts';

/**
 * Staging tables for consumed messages, filled through DuckDB appenders (no SQL per row).
 * Tables live in the process's shared in-memory database, so each gets a unique name and is
 * dropped by `drop()`.
 */
export interface StagingTables {
  rowsTable: string;
  errorsTable: string;
  appendRow(values: readonly MessageValue[], partition: number, offset: bigint): void;
  appendError(raw: string, reason: string, topic: string, partition: number, offset: bigint): void;
  /** Flushes both appenders; call before querying the tables. */
  flush(): void;
  drop(): Promise<void>;
}

export async function createStagingTables(
  connection: DuckDBConnection,
  schema: MessageSchema,
  columns: readonly string[],
): Promise<StagingTables> {
  const suffix = randomBytes(6).toString('hex');
  const rowsTable = `ingest_rows_${suffix}`;
  const errorsTable = `ingest_errors_${suffix}`;
  const columnDefinitions = columns.map((column) => `${sqlIdentifier(column)} ${schema[column]}`);
  await connection.run(
    `CREATE TABLE ${rowsTable} (${[...columnDefinitions, '__partition INTEGER', '__offset BIGINT'].join(', ')})`,
  );
  await connection.run(
    `CREATE TABLE ${errorsTable} (raw VARCHAR, reason VARCHAR, topic VARCHAR, "partition" INTEGER, "offset" BIGINT)`,
  );
  const rows = await connection.createAppender(rowsTable);
  const errors = await connection.createAppender(errorsTable);
  const appenders = columns.map((column) => appenderFor(schema[column] as MessageColumnType));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    rows.closeSync();
    errors.closeSync();
  };
  return {
    rowsTable,
    errorsTable,
    appendRow(values, partition, offset) {
      for (let index = 0; index < values.length; index++)
        (appenders[index] as Append)(rows, values[index] as MessageValue);
      rows.appendInteger(partition);
      rows.appendBigInt(offset);
      rows.endRow();
    },
    appendError(raw, reason, topic, partition, offset) {
      errors.appendVarchar(raw);
      errors.appendVarchar(reason);
      errors.appendVarchar(topic);
      errors.appendInteger(partition);
      errors.appendBigInt(offset);
      errors.endRow();
    },
    flush() {
      rows.flushSync();
      errors.flushSync();
    },
    async drop() {
      close();
      await connection.run(`DROP TABLE IF EXISTS ${rowsTable}; DROP TABLE IF EXISTS ${errorsTable}`);
    },
  };
}

type Append = (appender: DuckDBAppender, value: MessageValue) => void;

function appenderFor(type: MessageColumnType): Append {
  switch (type) {
    case 'BIGINT':
      return (appender, value) => appender.appendBigInt(value as bigint);
    case 'DOUBLE':
      return (appender, value) => appender.appendDouble(value as number);
    case 'VARCHAR':
      return (appender, value) => appender.appendVarchar(value as string);
    case 'BOOLEAN':
      return (appender, value) => appender.appendBoolean(value as boolean);
    case 'TIMESTAMP':
      return (appender, value) => appender.appendTimestamp(new DuckDBTimestampValue(value as bigint));
  }
}

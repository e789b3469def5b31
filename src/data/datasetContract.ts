import path from 'node:path';
import { DataError } from '../errors.ts';
import { typeFamily } from './contract.ts';
import { FLIGHTS_COLUMNS, FLIGHTS_DATASET } from './flights.ts';
import { readJsonFile, writeJsonFileAtomically } from './jsonFile.ts';
import type { MessageColumnType, MessageSchema } from './kafka/messages.ts';
import type { ColumnSchema } from './manifest.ts';

/** `<data>/<dataset>/_dataset.json`: the dataset's event contract, declared once. */
export const DATASET_CONTRACT_FILE = '_dataset.json';
const CONTRACT_FORMAT = 1;

/**
 * What every row (and every Kafka event) of a dataset is: its columns with their DuckDB types,
 * the column that identifies an event, and the event-time column whose day partitions the data.
 * `data import` records it from the data it reads; Kafka ingest and replay, and the streaming
 * scorer, read it instead of knowing datasets by name.
 */
export interface DatasetContract {
  format: 1;
  dataset: string;
  /** Every column, in partition order, with DuckDB's name for its type. */
  columns: ColumnSchema[];
  /** Unique per event within a day; Kafka ingest keeps one row per id. Absent: no dedup. */
  idColumn?: string;
  /**
   * The event-time column (the import's `--date-column`); its day is the partition. Absent for a
   * dataset imported with `--date` alone: its rows carry no time, only their day.
   */
  eventTimeColumn?: string;
  /** IANA zone whose calendar days partition the data; absent: UTC. */
  timezone?: string;
}

/** The contract of the shipped flights dataset: built in, no file needed. */
export const FLIGHTS_CONTRACT: DatasetContract = {
  format: 1,
  dataset: FLIGHTS_DATASET,
  columns: Object.entries(FLIGHTS_COLUMNS).map(([name, type]) => ({ name, type })),
  idColumn: 'flight_id',
  eventTimeColumn: 'departure_time',
};

export function contractFile(datasetDir: string): string {
  return path.join(datasetDir, DATASET_CONTRACT_FILE);
}

/** The contract checked: the id and event-time columns exist, every type maps to a JSON field. */
export function validateContract(contract: DatasetContract, where: string): DatasetContract {
  const names = new Set(contract.columns.map((column) => column.name));
  for (const [role, column] of [
    ['id column', contract.idColumn],
    ['event-time column', contract.eventTimeColumn],
  ] as const) {
    if (column !== undefined && !names.has(column)) {
      throw new DataError(
        `${where}: ${role} '${column}' is not a column (columns: ${[...names].join(', ')})`,
      );
    }
  }
  for (const column of contract.columns) messageType(column, where);
  return contract;
}

/** Writes the contract atomically (temporary file, then rename). */
export async function writeContract(datasetDir: string, contract: DatasetContract): Promise<void> {
  await writeJsonFileAtomically(contractFile(datasetDir), contract);
}

/** The dataset's recorded contract; `undefined` when it has none; a malformed one throws. */
export async function readContract(datasetDir: string): Promise<DatasetContract | undefined> {
  const file = contractFile(datasetDir);
  const parsed = await readJsonFile(file, 'a JSON dataset contract');
  if (parsed === undefined) return undefined;
  if (!isContract(parsed)) {
    throw new DataError(
      `${file}: expected a dataset contract (format ${CONTRACT_FORMAT} with dataset and columns [{name, type}], optional idColumn, eventTimeColumn, timezone), found another shape`,
    );
  }
  return validateContract(parsed, file);
}

/**
 * The contract of `dataset` under `dataDir`: its `_dataset.json`, or the built-in one of flights.
 * A dataset with neither gets an error saying how to declare one.
 */
export async function resolveContract(dataDir: string, dataset: string): Promise<DatasetContract> {
  const recorded = await readContract(path.join(dataDir, dataset));
  if (recorded !== undefined) return recorded;
  if (dataset === FLIGHTS_DATASET) return FLIGHTS_CONTRACT;
  throw new DataError(
    `dataset '${dataset}': no event contract at ${contractFile(path.join(dataDir, dataset))}; ` +
      `'nightshift data import ${dataset} <files> --date-column <col> --id-column <col>' records one (or write it by hand, see docs/data.md)`,
  );
}

function isContract(value: unknown): value is DatasetContract {
  if (typeof value !== 'object' || value === null) return false;
  const contract = value as Partial<DatasetContract>;
  return (
    contract.format === CONTRACT_FORMAT &&
    typeof contract.dataset === 'string' &&
    (contract.eventTimeColumn === undefined || typeof contract.eventTimeColumn === 'string') &&
    (contract.idColumn === undefined || typeof contract.idColumn === 'string') &&
    (contract.timezone === undefined || typeof contract.timezone === 'string') &&
    Array.isArray(contract.columns) &&
    contract.columns.every(
      (column: unknown) =>
        typeof column === 'object' &&
        column !== null &&
        typeof (column as ColumnSchema).name === 'string' &&
        typeof (column as ColumnSchema).type === 'string',
    )
  );
}

/**
 * How a column travels as a JSON field: integers as JSON integers (BIGINT), other numbers as
 * DOUBLE, timestamps and dates as ISO strings or epoch milliseconds (TIMESTAMP).
 */
function messageType(column: ColumnSchema, where: string): MessageColumnType {
  switch (typeFamily(column.type)) {
    case 'integer':
      return 'BIGINT';
    case 'float':
      return 'DOUBLE';
    case 'string':
      return 'VARCHAR';
    case 'boolean':
      return 'BOOLEAN';
    case 'timestamp':
      return 'TIMESTAMP';
    default:
      throw new DataError(
        `${where}: column '${column.name}' has type ${column.type}, which no JSON event field carries ` +
          '(expected integers, floats, VARCHAR, BOOLEAN, TIMESTAMP, TIMESTAMPTZ or DATE)',
      );
  }
}

/** The JSON message contract of a dataset's events, in column order. */
export function messageSchemaOf(contract: DatasetContract): MessageSchema {
  return Object.fromEntries(
    contract.columns.map((column) => [column.name, messageType(column, `dataset ${contract.dataset}`)]),
  );
}

/** Differences between a recorded contract's columns and those of new data (empty: compatible). */
export function columnDifferences(
  expected: readonly ColumnSchema[],
  found: readonly ColumnSchema[],
): string[] {
  const foundTypes = new Map(found.map((column) => [column.name, column.type]));
  const expectedNames = new Set(expected.map((column) => column.name));
  const differences: string[] = [];
  for (const column of expected) {
    const type = foundTypes.get(column.name);
    if (type === undefined) differences.push(`missing column '${column.name}' (${column.type})`);
    else if (type !== column.type)
      differences.push(`column '${column.name}': contract says ${column.type}, found ${type}`);
  }
  for (const column of found) {
    if (!expectedNames.has(column.name)) differences.push(`new column '${column.name}' (${column.type})`);
  }
  return differences;
}

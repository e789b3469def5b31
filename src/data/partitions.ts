import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../errors.ts';
import { type Day, isDay } from './dates.ts';
import { sqlString, withDuckSession } from './duckdb.ts';
import { sha256File } from './hash.ts';
import {
  type ColumnSchema,
  type ManifestFile,
  newManifest,
  type PartitionManifest,
  readManifest,
  sameInputs,
  type VerifyLevel,
  verifyManifestFiles,
  writeManifest,
} from './manifest.ts';

/**
 * Rows per Parquet row group of the partitions written here (flights, Kafka ingest). A flights
 * day holds about 16,500 rows: groups of 8,192 give two or three per day, so a shard plan can
 * split one day between scoring workers (a reader skips the groups outside its row range).
 * Files grow 8% against one group a day; groups of 4,096 cost 20%.
 */
export const PARTITION_ROW_GROUP_ROWS = 8192;

/** `<datasetDir>/date=YYYY-MM-DD`: hive layout, so DuckDB and other tools read it as is. */
export function partitionDir(datasetDir: string, date: Day): string {
  return path.join(datasetDir, `date=${date}`);
}

export interface Partition {
  date: Day;
  dir: string;
  manifest: PartitionManifest;
  /** Absolute paths of the partition's Parquet files, in manifest order. */
  files: string[];
}

export interface ListPartitionsOptions {
  from?: Day;
  /** Last day included. */
  to?: Day;
  /** `size` (default) catches missing and truncated files; `sha256` reads every byte. */
  verify?: VerifyLevel;
}

/**
 * The complete partitions of a dataset in date order. A folder without `_manifest.json` is being
 * written, was left by a crash or was copied by hand: it is skipped, never half-read.
 */
export async function listPartitions(
  datasetDir: string,
  options: ListPartitionsOptions = {},
): Promise<Partition[]> {
  let entries: string[];
  try {
    entries = await readdir(datasetDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const dates = entries
    .filter((entry) => entry.startsWith('date='))
    .map((entry) => entry.slice('date='.length))
    .filter((date) => isDay(date))
    .filter(
      (date) =>
        (options.from === undefined || date >= options.from) &&
        (options.to === undefined || date <= options.to),
    )
    .sort();
  const partitions: Partition[] = [];
  for (const date of dates) {
    const partition = await readPartition(datasetDir, date, options.verify);
    if (partition !== undefined) partitions.push(partition);
  }
  return partitions;
}

/** One day's partition, checked as `listPartitions` checks it; undefined without a manifest. */
export async function readPartition(
  datasetDir: string,
  date: Day,
  verify: VerifyLevel = 'size',
): Promise<Partition | undefined> {
  const dir = partitionDir(datasetDir, date);
  const manifest = await readManifest(dir);
  if (manifest === undefined) return undefined;
  await verifyManifestFiles(dir, manifest, verify).catch((error: unknown) =>
    explainChangedFiles(dir, manifest, error),
  );
  return { date, dir, manifest, files: manifest.files.map((file) => path.join(dir, file.name)) };
}

export interface WritePartitionRequest {
  datasetDir: string;
  dataset: string;
  date: Day;
  /** Fingerprint of what produces the partition; an existing partition with equal inputs is kept. */
  inputs: Record<string, string | number>;
  /** Writes the partition's Parquet files into an empty temporary folder. */
  writeFiles(tempDir: string): Promise<void>;
}

export type PartitionWriteStatus = 'written' | 'unchanged';

export interface PartitionWriteResult {
  status: PartitionWriteStatus;
  manifest: PartitionManifest;
}

/** True when the partition exists, was produced from `inputs`, and its files are intact. */
export async function isPartitionCurrent(
  dir: string,
  inputs: Record<string, string | number>,
): Promise<boolean> {
  const manifest = await readManifest(dir).catch(() => undefined);
  if (manifest === undefined || !sameInputs(manifest.inputs, inputs)) return false;
  return filesIntact(dir, manifest);
}

/**
 * Writes a partition atomically: files and manifest go to a temporary sibling folder, which
 * then replaces the old partition by rename. Readers see the old partition, then briefly none,
 * then the new one, never a mix. When the new files are byte-identical to the current ones the
 * current partition (and its `createdAt`) is kept, so a rerun changes nothing.
 */
export async function writePartition(
  connection: DuckDBConnection,
  request: WritePartitionRequest,
): Promise<PartitionWriteResult> {
  const finalDir = partitionDir(request.datasetDir, request.date);
  const tempDir = path.join(
    request.datasetDir,
    `.tmp-date=${request.date}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await mkdir(tempDir, { recursive: true });
  try {
    await request.writeFiles(tempDir);
    const names = (await readdir(tempDir)).filter((name) => name.endsWith('.parquet')).sort();
    const files = await Promise.all(
      names.map((name) => describeParquetFile(connection, path.join(tempDir, name))),
    );
    const schema =
      names.length > 0 ? await parquetSchema(connection, path.join(tempDir, names[0] as string)) : [];
    const current = await readManifest(finalDir).catch(() => undefined);
    if (current !== undefined && sameFiles(current.files, files) && (await filesIntact(finalDir, current))) {
      if (sameInputs(current.inputs, request.inputs)) return { status: 'unchanged', manifest: current };
      // Same bytes from new inputs (say, a wider --from/--to): keep the files, record the inputs.
      const refreshed: PartitionManifest = { ...current, inputs: request.inputs };
      await writeManifest(finalDir, refreshed);
      return { status: 'unchanged', manifest: refreshed };
    }
    const manifest = newManifest({
      dataset: request.dataset,
      date: request.date,
      rowCount: files.reduce((sum, file) => sum + file.rows, 0),
      schema,
      files,
      inputs: request.inputs,
    });
    await writeManifest(tempDir, manifest);
    await replaceDir(tempDir, finalDir);
    return { status: 'written', manifest };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * A file that no longer matches its manifest was replaced, truncated or damaged after it was
 * written. Say how: which columns differ from the recorded schema, or why it cannot be read.
 */
async function explainChangedFiles(dir: string, manifest: PartitionManifest, error: unknown): Promise<never> {
  const details: string[] = [];
  await withDuckSession(async (connection) => {
    for (const file of manifest.files) {
      const location = path.join(dir, file.name);
      const found = await parquetSchema(connection, location).catch((readError: unknown) =>
        firstLine(readError),
      );
      if (typeof found === 'string') {
        details.push(`${location} is not readable Parquet (${found})`);
        continue;
      }
      const differences = schemaDifferences(manifest.schema, found);
      if (differences.length > 0) details.push(`${location}: ${differences.join('; ')}`);
    }
  }).catch(() => undefined);
  const message = error instanceof Error ? error.message : String(error);
  throw new DataError(details.length > 0 ? `${message}; ${details.join('; ')}` : message, { cause: error });
}

function schemaDifferences(expected: readonly ColumnSchema[], found: readonly ColumnSchema[]): string[] {
  const foundTypes = new Map(found.map((column) => [column.name, column.type]));
  const expectedNames = new Set(expected.map((column) => column.name));
  const differences: string[] = [];
  for (const column of expected) {
    const type = foundTypes.get(column.name);
    if (type === undefined) differences.push(`missing column '${column.name}' (expected ${column.type})`);
    else if (type !== column.type)
      differences.push(`column '${column.name}': expected ${column.type}, found ${type}`);
  }
  for (const column of found) {
    if (!expectedNames.has(column.name))
      differences.push(`unexpected column '${column.name}' (${column.type})`);
  }
  return differences;
}

async function replaceDir(fromDir: string, toDir: string): Promise<void> {
  const exists = await stat(toDir).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await rename(fromDir, toDir);
    return;
  }
  // rename() cannot replace a non-empty folder: move the old one aside first. A crash between
  // the two renames leaves no partition (a rerun writes it), never a partial one.
  const oldDir = `${path.dirname(toDir)}/.old-${path.basename(toDir)}-${randomBytes(4).toString('hex')}`;
  await rename(toDir, oldDir);
  await rename(fromDir, toDir);
  await rm(oldDir, { recursive: true, force: true });
}

async function filesIntact(dir: string, manifest: PartitionManifest): Promise<boolean> {
  return verifyManifestFiles(dir, manifest, 'sha256').then(
    () => true,
    () => false,
  );
}

function sameFiles(a: readonly ManifestFile[], b: readonly ManifestFile[]): boolean {
  return (
    a.length === b.length &&
    a.every((file, index) => file.name === b[index]?.name && file.sha256 === b[index]?.sha256)
  );
}

async function describeParquetFile(connection: DuckDBConnection, file: string): Promise<ManifestFile> {
  const reader = await connection.runAndReadAll(
    `SELECT coalesce(sum(num_rows), 0)::BIGINT FROM parquet_file_metadata(${sqlString(file)})`,
  );
  const rows = Number(reader.getRows()[0]?.[0] ?? 0);
  const [bytes, sha256] = await Promise.all([stat(file).then((info) => info.size), sha256File(file)]);
  return { name: path.basename(file), rows, bytes, sha256 };
}

/** Column names and DuckDB types of a Parquet file, read from its footer only. */
export async function parquetSchema(connection: DuckDBConnection, file: string): Promise<ColumnSchema[]> {
  let reader: Awaited<ReturnType<DuckDBConnection['runAndReadAll']>>;
  try {
    reader = await connection.runAndReadAll(
      `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`,
    );
  } catch (error) {
    throw new DataError(`${file}: expected a readable Parquet file: ${firstLine(error)}`, { cause: error });
  }
  return reader.getRows().map((row) => ({ name: String(row[0]), type: String(row[1]) }));
}

export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

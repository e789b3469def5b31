import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DataError, UsageError } from '../errors.ts';
import { type Day, isDay, parseDay } from './dates.ts';
import { sqlString, withDuckSession } from './duckdb.ts';
import { sha256File } from './hash.ts';
import { MANIFEST_FILE, newManifest, readManifest } from './manifest.ts';
import { listPartitions, type Partition, readPartition } from './partitions.ts';
import { readWindow } from './window.ts';

export interface ParquetInputOptions {
  /** The day of files outside any `date=` folder; with a dataset folder alone, the day read. */
  date?: Day;
  /** With dataset folders and `date=` files: the first and last day read. */
  from?: Day;
  to?: Day;
}

/**
 * What `score --input` reads, as Ray Data's `read_parquet` takes paths: partition folders
 * (`.../date=D`) and dataset folders (with `date=` partitions) through their manifests, which
 * are verified; plain Parquet files, folders of them (recursively) and globs as they are. A
 * plain file's day is its `date=D` folder's, else `date`. A file inside a folder that has a
 * manifest is read through it: the manifest must list it, and its size is checked. Plain
 * files are hashed here, so that the lineage of what is scored records their sha256 too.
 * Returns partitions in date order (one per folder and day).
 */
export async function resolveParquetInputs(
  inputs: readonly string[],
  options: ParquetInputOptions = {},
): Promise<Partition[]> {
  if (inputs.length === 0) throw new UsageError('--input: expected a file, folder or glob');
  const partitions = new Map<string, Partition>();
  const loose = new Set<string>();
  for (const input of inputs) {
    const resolved = path.resolve(input);
    if (/[*?[{]/.test(input)) {
      const matched = await globParquet(input);
      if (matched.length === 0) throw new UsageError(`--input ${input}: no Parquet file matches`);
      for (const file of matched) loose.add(file);
      continue;
    }
    const info = await stat(resolved).catch(() => undefined);
    if (info === undefined)
      throw new UsageError(`--input: expected a Parquet file, folder or glob, found nothing at ${resolved}`);
    if (!info.isDirectory()) {
      loose.add(resolved);
      continue;
    }
    const managed = await managedPartitions(resolved, options);
    if (managed !== undefined) {
      for (const partition of managed) partitions.set(partition.dir, partition);
      continue;
    }
    const files = await parquetFilesUnder(resolved);
    if (files.length === 0)
      throw new UsageError(`--input ${resolved}: no Parquet file (or partition manifest) in it`);
    for (const file of files) loose.add(file);
  }
  // A file of a partition already given as a folder is read through that partition once.
  for (const partition of await plainPartitions([...loose], options)) {
    if (!partitions.has(partition.dir)) partitions.set(partition.dir, partition);
  }
  const result = [...partitions.values()].filter(
    (partition) =>
      (options.from === undefined || partition.date >= options.from) &&
      (options.to === undefined || partition.date <= options.to),
  );
  if (result.length === 0) throw new UsageError(`--input: nothing to score in ${inputs.join(' ')}`);
  return result.sort((a, b) => (a.date === b.date ? (a.dir < b.dir ? -1 : 1) : a.date < b.date ? -1 : 1));
}

/** A partition folder or a dataset folder, read through manifests; undefined for a plain folder. */
async function managedPartitions(
  dir: string,
  options: ParquetInputOptions,
): Promise<Partition[] | undefined> {
  const base = path.basename(dir);
  if (base.startsWith('date=') && isDay(base.slice(5))) {
    const date = parseDay(base.slice(5), '--input');
    const partition = await readPartition(path.dirname(dir), date);
    if (partition !== undefined) return [partition];
    // A `date=` folder without a manifest is being written or was left by a crash: never half-read.
    throw new UsageError(`--input ${dir}: no ${MANIFEST_FILE}: the partition is incomplete`);
  }
  const entries = await readdir(dir);
  if (entries.includes(MANIFEST_FILE)) {
    throw new UsageError(`--input ${dir}: a folder with ${MANIFEST_FILE} must be named date=YYYY-MM-DD`);
  }
  // A dataset folder has partitions with manifests; `date=` folders of plain files are plain.
  const dated = entries.filter((entry) => entry.startsWith('date='));
  const manifests = await Promise.all(
    dated.map((entry) =>
      stat(path.join(dir, entry, MANIFEST_FILE)).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (!manifests.includes(true)) return undefined;
  const window =
    options.from === undefined && options.to === undefined && options.date !== undefined
      ? { from: options.date, to: options.date } // `--input data/flights --date D`: day D only
      : { ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}) };
  const partitions =
    options.from !== undefined && options.to !== undefined
      ? // A window asked for is scored whole, or not at all: a missing day is named.
        (await readWindow(dir, options.from, options.to, { what: '--input' })).partitions
      : await listPartitions(dir, window);
  if (partitions.length === 0)
    throw new UsageError(`--input: no complete partition (with ${MANIFEST_FILE}) at ${dir}`);
  return partitions;
}

async function parquetFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.parquet'))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .filter(
      (file) =>
        !path
          .relative(dir, file)
          .split(path.sep)
          .some((part) => /^[._]/.test(part)),
    )
    .sort();
}

async function globParquet(pattern: string): Promise<string[]> {
  return withDuckSession(async (connection) => {
    const reader = await connection.runAndReadAll(`SELECT file FROM glob(${sqlString(pattern)})`);
    return reader
      .getRows()
      .map((row) => path.resolve(String(row[0])))
      .filter((file) => file.toLowerCase().endsWith('.parquet'))
      .sort();
  });
}

/** Plain files grouped by folder and day; a folder with a manifest is read through it. */
async function plainPartitions(files: readonly string[], options: ParquetInputOptions): Promise<Partition[]> {
  const byDir = new Map<string, string[]>();
  for (const file of files) {
    const dir = path.dirname(file);
    byDir.set(dir, [...(byDir.get(dir) ?? []), path.basename(file)]);
  }
  const partitions: Partition[] = [];
  for (const [dir, names] of byDir) {
    const date = dayOfFolder(dir) ?? options.date;
    if (date === undefined) {
      throw new UsageError(
        `--input ${path.join(dir, names[0] as string)}: not in a date=YYYY-MM-DD folder; pass --date D, the day its rows belong to`,
      );
    }
    if ((await readManifest(dir)) !== undefined) {
      const partition = await readPartition(path.dirname(dir), date);
      const listed = new Set(partition?.manifest.files.map((file) => file.name));
      const stray = names.filter((name) => !listed.has(name));
      if (partition === undefined || stray.length > 0) {
        throw new DataError(
          `--input ${path.join(dir, stray[0] ?? (names[0] as string))}: its folder's ${MANIFEST_FILE} does not list it; ` +
            'a partition is the files its manifest lists',
        );
      }
      partitions.push(partition);
      continue;
    }
    partitions.push(await describePlainFiles(dir, date, names));
  }
  return partitions;
}

function dayOfFolder(dir: string): Day | undefined {
  const match = /(?:^|[\\/])date=(\d{4}-\d{2}-\d{2})(?:[\\/]|$)/.exec(dir);
  const day = match?.[1];
  return day !== undefined && isDay(day) ? day : undefined;
}

/** A partition (kept in memory, never written) for plain files: rows from footers, sha256 now. */
async function describePlainFiles(dir: string, date: Day, names: readonly string[]): Promise<Partition> {
  const sorted = [...names].sort();
  const files = await withDuckSession(async (connection) => {
    const described = [];
    for (const name of sorted) {
      const file = path.join(dir, name);
      let rows: number;
      try {
        const reader = await connection.runAndReadAll(
          `SELECT coalesce(sum(num_rows), 0)::BIGINT FROM parquet_file_metadata(${sqlString(file)})`,
        );
        rows = Number(reader.getRows()[0]?.[0] ?? 0);
      } catch (error) {
        throw new DataError(`${file}: expected a readable Parquet file: ${String(error).split('\n')[0]}`, {
          cause: error,
        });
      }
      const [info, sha256] = await Promise.all([stat(file), sha256File(file)]);
      described.push({ name, rows, bytes: info.size, sha256 });
    }
    return described;
  });
  const manifest = newManifest({
    dataset: path.basename(dir),
    date,
    rowCount: files.reduce((sum, file) => sum + file.rows, 0),
    schema: [],
    files,
    inputs: { plainFiles: sorted.length },
  });
  return { date, dir, manifest, files: sorted.map((name) => path.join(dir, name)) };
}

/**
 * A scoring worker's view of plain files (a folder without a manifest): each file's sha256 is
 * checked against the one the plan recorded when the inputs were resolved, so the bytes scored
 * are the ones the planner saw and the predictions' lineage names.
 */
export async function plainPartitionOf(
  dir: string,
  date: Day,
  files: readonly { file: string; sha256: string; rows: number }[],
): Promise<Partition> {
  const described = [];
  for (const { file, sha256, rows } of files) {
    const [info, found] = await Promise.all([stat(file), sha256File(file)]);
    if (found !== sha256) {
      throw new DataError(
        `${file}: expected sha256 ${sha256} as planned, found ${found}: the file changed since; score it again`,
      );
    }
    described.push({ name: path.basename(file), rows, bytes: info.size, sha256 });
  }
  const manifest = newManifest({
    dataset: path.basename(dir),
    date,
    rowCount: described.reduce((sum, file) => sum + file.rows, 0),
    schema: [],
    files: described,
    inputs: { plainFiles: described.length },
  });
  return { date, dir, manifest, files: files.map(({ file }) => file) };
}

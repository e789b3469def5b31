import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from '../errors.ts';
import { plainNameProblem } from './fileNames.ts';
import { readJsonFile, writeJsonFileAtomically } from './jsonFile.ts';
import { verifyFileSha256 } from './verifiedFiles.ts';

export const MANIFEST_FILE = '_manifest.json';
const MANIFEST_FORMAT = 1;

export interface ColumnSchema {
  name: string;
  /** DuckDB's name for the type, e.g. `BIGINT`, `TIMESTAMP`, `VARCHAR`. */
  type: string;
}

export interface ManifestFile {
  name: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** Absent in manifests written before files carried statistics. */
  stats?: FileStats;
}

/**
 * What validation needs of a file, recorded when it is written, as table formats (Delta Lake,
 * Iceberg) keep column statistics in their manifests: reading them costs no Parquet footer and
 * no scan. They describe the file as it was at `mtimeMs` with the file's `bytes`; a file found
 * with another size or mtime is read as if they were absent.
 */
export interface FileStats {
  mtimeMs: number;
  /** Every top-level column: how many nulls it holds. */
  nullCounts: Record<string, number>;
  /**
   * Integer and float columns: the smallest non-null value, as a Parquet footer's minimum. Left
   * out when unknown: a float column holding NaN (DuckDB writes no footer minimum then either),
   * no non-null value, or a minimum that is not finite.
   */
  minimums: Record<string, number>;
  /**
   * VARCHAR columns with at most `MAX_RECORDED_VALUES` distinct non-null values: those values in
   * the order of DuckDB's `ORDER BY` (UTF-8 bytes). A column with more has no entry.
   */
  values: Record<string, string[]>;
}

/** A file's distinct values are recorded up to this many: enough for slice keys such as airports. */
export const MAX_RECORDED_VALUES = 1024;

/**
 * Written last into a partition's folder: a folder without it is incomplete and readers skip it.
 * `inputs` fingerprints what produced the partition, so that a rerun with the same inputs can
 * skip the work entirely.
 */
export interface PartitionManifest {
  format: number;
  dataset: string;
  date: string;
  rowCount: number;
  schema: ColumnSchema[];
  files: ManifestFile[];
  createdAt: string;
  inputs: Record<string, string | number>;
}

/**
 * Writes the manifest to a temporary file of the same folder, then renames it over the old one:
 * a reader listing partitions meanwhile reads the old manifest or the new one, never half of one.
 */
export async function writeManifest(dir: string, manifest: PartitionManifest): Promise<void> {
  await writeJsonFileAtomically(path.join(dir, MANIFEST_FILE), manifest);
}

/** The manifest of a partition folder, `undefined` when there is none; a malformed one throws. */
export async function readManifest(dir: string): Promise<PartitionManifest | undefined> {
  const file = path.join(dir, MANIFEST_FILE);
  const parsed = await readJsonFile(file, 'a JSON partition manifest');
  if (parsed === undefined) return undefined;
  if (!isManifest(parsed)) {
    throw new DataError(
      `${file}: expected a partition manifest (format ${MANIFEST_FORMAT} with rowCount, schema, files), found another shape`,
    );
  }
  for (const listed of parsed.files) {
    const problem = plainNameProblem(listed.name);
    if (problem !== undefined) {
      throw new DataError(`${file}: lists ${JSON.stringify(listed.name)}: ${problem}; refusing the manifest`);
    }
  }
  return parsed;
}

function isManifest(value: unknown): value is PartitionManifest {
  if (typeof value !== 'object' || value === null) return false;
  const manifest = value as Partial<PartitionManifest>;
  return (
    manifest.format === MANIFEST_FORMAT &&
    typeof manifest.rowCount === 'number' &&
    Array.isArray(manifest.schema) &&
    Array.isArray(manifest.files) &&
    manifest.files.every(
      (file) =>
        typeof file?.name === 'string' && typeof file.sha256 === 'string' && typeof file.bytes === 'number',
    )
  );
}

export function newManifest(fields: Omit<PartitionManifest, 'format' | 'createdAt'>): PartitionManifest {
  return { format: MANIFEST_FORMAT, ...fields, createdAt: new Date().toISOString() };
}

/**
 * Each file's recorded statistics when the file on disk still has the recorded size and mtime,
 * `undefined` for a file without statistics or changed since (one `stat` a file, concurrently).
 */
export async function currentFileStats(
  dir: string,
  manifest: PartitionManifest,
): Promise<(FileStats | undefined)[]> {
  return Promise.all(
    manifest.files.map(async (file) => {
      if (!isFileStats(file.stats)) return undefined;
      const info = await stat(path.join(dir, file.name)).catch(() => undefined);
      return statsDescribe(file, info) ? file.stats : undefined;
    }),
  );
}

/** True when `file`'s statistics describe the file `info` was taken of. */
export function statsDescribe(file: ManifestFile, info: Stats | undefined): boolean {
  return (
    info !== undefined &&
    isFileStats(file.stats) &&
    info.size === file.bytes &&
    info.mtimeMs === file.stats.mtimeMs
  );
}

function isFileStats(value: unknown): value is FileStats {
  if (typeof value !== 'object' || value === null) return false;
  const stats = value as Partial<FileStats>;
  const isRecord = (field: unknown) => typeof field === 'object' && field !== null;
  return (
    typeof stats.mtimeMs === 'number' &&
    isRecord(stats.nullCounts) &&
    isRecord(stats.minimums) &&
    isRecord(stats.values)
  );
}

/**
 * Checks that the files a manifest lists (or, with `only`, those of them) are there as written:
 * size and sha256 of every byte, once per process while a file keeps its inode, size, mtime
 * and ctime (see verifiedFiles.ts). There is no cheaper level: every caller feeds the bytes to
 * a model, a score or a lineage.
 */
export async function verifyManifestFiles(
  dir: string,
  manifest: PartitionManifest,
  only?: ReadonlySet<string>,
): Promise<void> {
  for (const file of manifest.files) {
    const location = path.join(dir, file.name);
    if (only !== undefined && !only.has(location)) continue;
    await verifyFileSha256(location, file, MANIFEST_FILE);
  }
}

export function sameInputs(a: Record<string, string | number>, b: Record<string, string | number>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

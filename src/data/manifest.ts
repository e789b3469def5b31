import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from '../errors.ts';
import { sha256File } from './hash.ts';

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
}

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
  const temp = path.join(dir, `.${MANIFEST_FILE}.${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(temp, path.join(dir, MANIFEST_FILE));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The manifest of a partition folder, `undefined` when there is none; a malformed one throws. */
export async function readManifest(dir: string): Promise<PartitionManifest | undefined> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${file}: expected a JSON partition manifest, found unparseable text`, {
      cause: error,
    });
  }
  if (!isManifest(parsed)) {
    throw new DataError(
      `${file}: expected a partition manifest (format ${MANIFEST_FORMAT} with rowCount, schema, files), found another shape`,
    );
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
    manifest.files.every((file) => typeof file?.name === 'string' && typeof file.sha256 === 'string')
  );
}

export function newManifest(fields: Omit<PartitionManifest, 'format' | 'createdAt'>): PartitionManifest {
  return { format: MANIFEST_FORMAT, ...fields, createdAt: new Date().toISOString() };
}

export type VerifyLevel = 'size' | 'sha256';

/**
 * Checks that the files a manifest lists are there as written: sizes always (cheap, catches
 * truncation), checksums when asked (reads every byte).
 */
export async function verifyManifestFiles(
  dir: string,
  manifest: PartitionManifest,
  level: VerifyLevel,
): Promise<void> {
  for (const file of manifest.files) {
    const location = path.join(dir, file.name);
    let bytes: number;
    try {
      bytes = (await stat(location)).size;
    } catch {
      throw new DataError(`${location}: listed in ${MANIFEST_FILE} but missing`);
    }
    if (bytes !== file.bytes) {
      throw new DataError(
        `${location}: expected ${file.bytes} bytes as recorded in ${MANIFEST_FILE}, found ${bytes}`,
      );
    }
    if (level === 'sha256') {
      const sha256 = await sha256File(location);
      if (sha256 !== file.sha256) {
        throw new DataError(
          `${location}: expected sha256 ${file.sha256} from ${MANIFEST_FILE}, found ${sha256}`,
        );
      }
    }
  }
}

export function sameInputs(a: Record<string, string | number>, b: Record<string, string | number>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { type DatasetContract, readContract } from './datasetContract.ts';
import type { Day } from './dates.ts';
import type { ColumnSchema } from './manifest.ts';
import { listPartitions } from './partitions.ts';

export interface DatasetDay {
  date: Day;
  rows: number;
  bytes: number;
  files: number;
}

export interface DatasetSummary {
  dataset: string;
  dir: string;
  days: number;
  first: Day | undefined;
  last: Day | undefined;
  rows: number;
  bytes: number;
  /** The contract's columns, else the newest partition's schema. */
  schema: ColumnSchema[];
  contract: DatasetContract | undefined;
  /** Each complete day (with a manifest), in date order. */
  partitions: DatasetDay[];
}

/** One dataset's complete days, sizes and schema (sizes checked against the manifests). */
export async function describeDataset(dataDir: string, dataset: string): Promise<DatasetSummary> {
  const dir = path.join(dataDir, dataset);
  const [partitions, contract] = await Promise.all([listPartitions(dir), readContract(dir)]);
  const days = partitions.map((partition) => ({
    date: partition.date,
    rows: partition.manifest.rowCount,
    bytes: partition.manifest.files.reduce((sum, file) => sum + file.bytes, 0),
    files: partition.manifest.files.length,
  }));
  return {
    dataset,
    dir,
    days: days.length,
    first: days[0]?.date,
    last: days.at(-1)?.date,
    rows: days.reduce((sum, day) => sum + day.rows, 0),
    bytes: days.reduce((sum, day) => sum + day.bytes, 0),
    schema: contract?.columns ?? partitions.at(-1)?.manifest.schema ?? [],
    contract,
    partitions: days,
  };
}

/**
 * The datasets under `dataDir`: folders holding a dataset contract or `date=` partitions.
 * Hidden folders (the embedded store's state, temporary folders) are not datasets.
 */
export async function listDatasets(dataDir: string): Promise<DatasetSummary[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dataDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const summaries: DatasetSummary[] = [];
  for (const entry of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).sort(byName)) {
    const summary = await describeDataset(dataDir, entry.name);
    if (summary.days > 0 || summary.contract !== undefined) summaries.push(summary);
  }
  return summaries;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

import { stat } from 'node:fs/promises';
import { DataError } from '../errors.ts';
import { type Day, daysBetween } from './dates.ts';
import { MANIFEST_FILE } from './manifest.ts';
import { listPartitions, type Partition, partitionDir } from './partitions.ts';

/** The partitions of a requested window of days, and the days of it that have none. */
export interface PartitionWindow {
  from: Day;
  to: Day;
  partitions: Partition[];
  /** Days of the window without a complete partition (no folder, or no `_manifest.json`). */
  missing: Day[];
}

/**
 * The partitions from `from` to `to`, verified as `listPartitions` verifies them. A window a
 * user or a DAG asked for is complete: a day without a partition fails it, naming every
 * missing day and why, unless `allowGaps` is set (the caller then records `missing`).
 */
export async function readWindow(
  datasetDir: string,
  from: Day,
  to: Day,
  options: { allowGaps?: boolean; what?: string } = {},
): Promise<PartitionWindow> {
  const partitions = await listPartitions(datasetDir, { from, to });
  const have = new Set(partitions.map((partition) => partition.date));
  const missing = daysBetween(from, to).filter((day) => !have.has(day));
  if (missing.length > 0 && !options.allowGaps) {
    const reasons = await Promise.all(missing.map((day) => missingReason(datasetDir, day)));
    throw new DataError(
      `${options.what ?? datasetDir}: expected a complete partition for every day from ${from} to ${to} under ${datasetDir}, ` +
        `missing ${missing.length} of ${daysBetween(from, to).length}: ${reasons.join(', ')}`,
    );
  }
  return { from, to, partitions, missing };
}

async function missingReason(datasetDir: string, day: Day): Promise<string> {
  const dir = partitionDir(datasetDir, day);
  const exists = await stat(dir).then(
    (info) => info.isDirectory(),
    () => false,
  );
  return exists ? `${day} (its folder has no ${MANIFEST_FILE})` : `${day} (no folder)`;
}

import { addDays, type Day, type Partition } from '../data/index.ts';
import { ConfigError, DataError } from '../errors.ts';

/**
 * The holdout a pipeline declares: the newest labelled days not used in training, on which
 * candidate, champion and baseline are measured. `{ days: N }` takes N days; `{ minRows: N }`
 * takes days until their partitions hold at least N rows (the manifests' row counts), so that
 * daily data of a few rows a day still gets a holdout on which AUC or R² can be measured.
 */
export type HoldoutSpec = { days: number } | { minRows: number };

/** One day, D-1: today's behaviour for flights (16k rows a day). */
export const DEFAULT_HOLDOUT: HoldoutSpec = { days: 1 };

/** A holdout by minRows walks at most this far: a year of days too small means a wrong spec. */
export const MAX_HOLDOUT_DAYS = 366;

/** Checks a holdout spec at the public edge; names where it was found and what was expected. */
export function checkHoldoutSpec(where: string, spec: unknown): HoldoutSpec {
  const expected = '{ days: N } or { minRows: N } with N a positive integer';
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new ConfigError(`${where}: holdout expected ${expected}, found ${JSON.stringify(spec)}`);
  }
  const keys = Object.keys(spec).sort().join(',');
  const value = Object.values(spec)[0];
  if ((keys !== 'days' && keys !== 'minRows') || !Number.isInteger(value) || (value as number) < 1) {
    throw new ConfigError(`${where}: holdout expected ${expected}, found ${JSON.stringify(spec)}`);
  }
  if (keys === 'days' && (value as number) > MAX_HOLDOUT_DAYS) {
    throw new ConfigError(`${where}: holdout days expected at most ${MAX_HOLDOUT_DAYS}, found ${value}`);
  }
  return spec as HoldoutSpec;
}

export function describeHoldout(spec: HoldoutSpec): string {
  return 'days' in spec ? `{ days: ${spec.days} }` : `{ minRows: ${spec.minRows} }`;
}

/** Reads one day's partition; undefined when the day has none. */
export type ReadDay = (day: Day) => Promise<Partition | undefined>;

function rowsOf(partitions: readonly Partition[]): number {
  return partitions.reduce((sum, partition) => sum + partition.manifest.rowCount, 0);
}

/**
 * The nightly holdout, ending on `lastDay` (D-1) and walking back: every day it needs must
 * exist, or the error names the missing day (data may still arrive: the caller decides whether
 * that is retriable). Oldest first.
 */
export async function holdoutEndingOn(
  spec: HoldoutSpec,
  lastDay: Day,
  readDay: ReadDay,
  dataset: string,
): Promise<Partition[]> {
  const found: Partition[] = [];
  const target = 'days' in spec ? spec.days : MAX_HOLDOUT_DAYS;
  for (let day = lastDay; found.length < target; day = addDays(day, -1)) {
    const partition = await readDay(day);
    if (partition === undefined) {
      const have =
        found.length === 0
          ? ''
          : `; ${found.length} days after it (${addDays(day, 1)}..${lastDay}) hold ${rowsOf(found)} rows`;
      // Retriable: the day's data may still arrive.
      throw new DataError(
        `holdout ${describeHoldout(spec)} of ${dataset}: expected a partition for ${day}, found none${have}`,
        { retriable: true },
      );
    }
    found.unshift(partition);
    if ('minRows' in spec && rowsOf(found) >= spec.minRows) return found;
  }
  if ('minRows' in spec) {
    throw new DataError(
      `holdout ${describeHoldout(spec)} of ${dataset}: ${MAX_HOLDOUT_DAYS} days up to ${lastDay} hold only ${rowsOf(found)} rows`,
    );
  }
  return found;
}

export interface ForwardHoldout {
  partitions: Partition[];
  /** What was asked for and what was found, for a message that is true. */
  note: string;
}

/**
 * The holdout after a training window that `train --from --to` was given: the days from
 * `firstDay` on, as many as the spec asks and as exist (a window ending yesterday has none yet).
 * Never fails: what was found is said in `note`.
 */
export async function holdoutStartingOn(
  spec: HoldoutSpec,
  firstDay: Day,
  readDay: ReadDay,
  dataset: string,
): Promise<ForwardHoldout> {
  const found: Partition[] = [];
  const days = 'days' in spec ? spec.days : MAX_HOLDOUT_DAYS;
  let day = firstDay;
  for (let i = 0; i < days; i++, day = addDays(day, 1)) {
    const partition = await readDay(day);
    if (partition === undefined) {
      // A gap or the end of the data: a holdout is contiguous, stop here.
      if (found.length === 0 || 'minRows' in spec) break;
      continue;
    }
    found.push(partition);
    if ('minRows' in spec && rowsOf(found) >= spec.minRows) break;
  }
  const asked = describeHoldout(spec);
  if (found.length === 0) {
    return { partitions: [], note: `no holdout ${asked}: no ${dataset} partition for ${firstDay}` };
  }
  const range = `${firstDay}..${(found.at(-1) as Partition).date}`;
  const rows = rowsOf(found);
  const short = 'minRows' in spec && rows < spec.minRows ? `, fewer than the ${spec.minRows} asked` : '';
  return {
    partitions: found,
    note: `holdout ${asked}: ${found.length} ${dataset} days ${range}, ${rows} rows${short}`,
  };
}

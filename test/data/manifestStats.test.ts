import { cp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flightsDelayFeatures } from '../../pipelines/flights-delay/features.ts';
import { typeFamily } from '../../src/data/contract.ts';
import { sqlString, withDuckSession } from '../../src/data/duckdb.ts';
import { readFooters } from '../../src/data/features/footers.ts';
import { type ValidateOptions, validateFeatureSource } from '../../src/data/features/validate.ts';
import { sha256File } from '../../src/data/hash.ts';
import {
  defineFeatures,
  type FittedFeatures,
  fitFeatures,
  listPartitions,
  MANIFEST_FILE,
  type Partition,
  type PartitionManifest,
  prepareFlights,
} from '../../src/data/index.ts';
import { type FileStats, readManifest, writeManifest } from '../../src/data/manifest.ts';
import { writePartition } from '../../src/data/partitions.ts';
import { ChecksumError, DataError } from '../../src/errors.ts';
import { parquetOf, query, tempDir, writeTestPartition } from './helpers.ts';

/** Numbers, a float that can hold NaN, nullable strings and slice columns of every cardinality. */
const spec = defineFeatures({
  name: 'manifest-stats',
  version: 1,
  id: 'id',
  features: {
    speed: { kind: 'numeric', column: 'speed', log1p: true, standardize: true },
    count: { kind: 'numeric', column: 'count', log1p: true },
    colour: {
      kind: 'categorical',
      column: 'colour',
      encoding: { type: 'vocabulary', topN: 5 },
      nullable: true,
    },
  },
  label: { kind: 'binary', column: 'late', positiveWhen: { op: '>', value: 15 } },
  slices: ['colour', 'tag', 'serial'],
});

const ROWS = 2000;
/**
 * `tag` has 1,024 distinct values (recorded), `serial` one a row (not recorded), `colour` some
 * beyond U+FFFF, which JS's default sort would place before U+E000-U+FFFF but DuckDB after.
 */
const goodRows = (offset = 0) => `SELECT (i + ${offset})::BIGINT AS id, (i % 97)::DOUBLE AS speed,
    (i % 13)::BIGINT AS count, ['red', 'Rot', 'été', 'ｚ', '😀', 'blue'][i % 6 + 1] AS colour,
    'tag-' || ((i + ${offset}) % 1024) AS tag, 'serial-' || (i + ${offset}) AS serial,
    (i % 40)::BIGINT AS late FROM range(${ROWS}) t(i)`;

/** Rows 10, 20, 30 and 40 break the contract: NaN speed, null speed, null label, null count. A null colour is allowed. */
const rowsWithBad = `SELECT id, CASE WHEN id = 10 THEN 'NaN'::DOUBLE WHEN id = 20 THEN NULL ELSE speed END AS speed,
    CASE WHEN id = 40 THEN NULL ELSE count END AS count, CASE WHEN id % 7 = 0 THEN NULL ELSE colour END AS colour,
    tag, serial, CASE WHEN id = 30 THEN NULL ELSE late END AS late FROM (${goodRows()})`;

/** The partitions as a reader of manifests written before files carried statistics sees them. */
function withoutStats(partitions: readonly Partition[]): Partition[] {
  return partitions.map((partition) => ({
    ...partition,
    manifest: manifestWithoutStats(partition.manifest),
  }));
}

function manifestWithoutStats(manifest: PartitionManifest): PartitionManifest {
  return { ...manifest, files: manifest.files.map(({ stats: _, ...file }) => file) };
}

function statsOf(partition: Partition | undefined): FileStats {
  const stats = partition?.manifest.files[0]?.stats;
  if (stats === undefined) throw new Error(`expected statistics in ${partition?.dir}`);
  return stats;
}

async function validate(options: Omit<ValidateOptions, 'withLabels' | 'maxErrorRate'>) {
  return withDuckSession(async (connection) => {
    const { report, sliceValues, floatColumns, idIsInteger } = await validateFeatureSource(connection, {
      withLabels: true,
      maxErrorRate: 1,
      ...options,
    });
    return { report, sliceValues, floatColumns, idIsInteger };
  });
}

describe('file statistics in partition manifests', () => {
  let root: string;
  let fitted: FittedFeatures;
  let mixed: Partition[];
  let flights: Partition[];
  let flightsFitted: FittedFeatures;

  beforeAll(async () => {
    root = await tempDir('manifest-stats');
    const dataset = path.join(root, 'mixed');
    await writeTestPartition(dataset, '2001-01-01', goodRows());
    await writeTestPartition(dataset, '2001-01-02', rowsWithBad);
    await writeTestPartition(dataset, '2001-01-03', goodRows(ROWS));
    mixed = await listPartitions(dataset);
    fitted = await fitFeatures(spec, mixed.slice(0, 1));
    const prepared = await prepareFlights({
      dataDir: path.join(root, 'flights'),
      from: '2001-01-02',
      to: '2001-01-03',
    });
    flights = await listPartitions(prepared.datasetDir);
    flightsFitted = await fitFeatures(flightsDelayFeatures, flights.slice(0, 1));
  });

  it('matches statistics to files by name when a partition lists some of its files, and records none for a file of other types', async () => {
    const dataset = path.join(root, 'three-files');
    await withDuckSession((connection) =>
      writePartition(connection, {
        datasetDir: dataset,
        dataset: 'three-files',
        date: '2001-01-01',
        inputs: { test: 'three files' },
        writeFiles: async (dir) => {
          const write = (sql: string, name: string) =>
            connection.run(`COPY (${sql}) TO ${sqlString(path.join(dir, name))} (FORMAT parquet)`);
          await write(goodRows(), 'part-0.parquet');
          await write(rowsWithBad, 'part-1.parquet');
          // The manifest's schema is part-0's: here count is a DOUBLE.
          await write(
            `SELECT * REPLACE (CAST(count AS DOUBLE) AS count) FROM (${goodRows(2 * ROWS)})`,
            'part-2.parquet',
          );
        },
      }),
    );
    const [partition] = await listPartitions(dataset);
    if (partition === undefined) throw new Error('expected the partition');
    expect(partition.manifest.files.map((file) => file.stats !== undefined)).toEqual([true, true, false]);
    // A scoring shard lists one file of a day: it gets that file's statistics, not the first one's.
    for (const file of partition.files.slice(1)) {
      const shard = { ...partition, files: [file] };
      const fromStats = await validate({ partitions: [shard], fitted });
      expect(fromStats).toEqual(await validate({ partitions: withoutStats([shard]), fitted }));
      expect(fromStats.report.rows).toBe(ROWS);
    }
    const badOnly = await validate({
      partitions: [{ ...partition, files: [partition.files[1] as string] }],
      fitted,
    });
    expect(badOnly.report.errorRows).toBe(4);
  });

  it('records what DuckDB reads of each file: footer null counts and minimums, distinct values', async () => {
    const partitions = [...flights, ...mixed];
    const files = partitions.flatMap((partition) => partition.files);
    const footers = await withDuckSession((connection) => readFooters(connection, files));
    for (const partition of partitions) {
      const file = partition.files[0] as string;
      const stats = statsOf(partition);
      const footer = footers.get(file);
      expect(stats.mtimeMs).toBe((await stat(file)).mtimeMs);
      expect(new Map(Object.entries(stats.nullCounts))).toEqual(footer?.nullCounts);
      for (const { name, type } of partition.manifest.schema) {
        const family = typeFamily(type);
        if (family === 'integer' || family === 'float') {
          expect([name, stats.minimums[name]]).toEqual([name, footer?.minimums.get(name)]);
        }
        if (type === 'VARCHAR') {
          const distinct = await query(
            `SELECT DISTINCT "${name}" AS v FROM ${parquetOf(file)} WHERE v IS NOT NULL ORDER BY v`,
          );
          const expected = distinct.length <= 1024 ? distinct.map((row) => String(row[0])) : undefined;
          expect([name, stats.values[name]]).toEqual([name, expected]);
        }
      }
    }
    const bad = statsOf(mixed[1]);
    expect(bad.nullCounts).toMatchObject({ speed: 1, count: 1, late: 1, id: 0 });
    // A float column holding NaN has no known minimum, in the footer or in the manifest.
    expect(bad.minimums).toEqual({ id: 0, count: 0, late: 0 });
    expect(bad.values.tag).toHaveLength(1024);
    expect(bad.values.serial).toBeUndefined();
    expect(bad.values.colour).toEqual(['Rot', 'blue', 'red', 'été', 'ｚ', '😀']);
  });

  it('validates from the statistics exactly as from footers and scans, bad rows and all', async () => {
    const flightsRead = await validate({ partitions: flights, fitted: flightsFitted });
    expect(flightsRead).toEqual(await validate({ partitions: withoutStats(flights), fitted: flightsFitted }));
    expect(flightsRead.sliceValues.get('origin')?.length).toBeGreaterThan(100);

    const read = await validate({ partitions: mixed, fitted });
    expect(read).toEqual(await validate({ partitions: withoutStats(mixed), fitted }));
    // `speed` is a float column, so every file is scanned for NaN.
    expect([read.report.errorRows, read.report.scannedFiles]).toEqual([4, 3]);
    expect(read.sliceValues.get('tag')).toHaveLength(1024);
    expect(read.sliceValues.get('serial')).toHaveLength(2 * ROWS);

    const ranges = new Map([[mixed[1]?.files[0] as string, { from: 15, to: 35 }]]);
    const ranged = await validate({ partitions: mixed, fitted, ranges });
    expect(ranged).toEqual(await validate({ partitions: withoutStats(mixed), fitted, ranges }));
    expect(ranged.report.errorRows).toBe(2);
  });

  it('gives slice values in DuckDB order, from the recorded values or the query past 1,024', async () => {
    const read = await validate({ partitions: mixed, fitted });
    for (const column of ['colour', 'tag', 'serial']) {
      const distinct = await query(
        `SELECT DISTINCT ${column} AS v FROM read_parquet([${mixed.map((p) => `'${p.files[0]}'`).join(', ')}])
         WHERE v IS NOT NULL ORDER BY v`,
      );
      expect([column, read.sliceValues.get(column)]).toEqual([column, distinct.map((row) => String(row[0]))]);
    }
    expect(read.sliceValues.get('colour')?.slice(-2)).toEqual(['ｚ', '😀']);
    // A row range holds only some of a file's values: they come from the rows read.
    const ranged = await validate({
      partitions: mixed.slice(0, 1),
      fitted,
      ranges: new Map([[mixed[0]?.files[0] as string, { from: 0, to: 3 }]]),
    });
    expect(ranged.sliceValues.get('colour')).toEqual(['Rot', 'red', 'été']);
    expect(ranged.sliceValues.get('tag')).toEqual(['tag-0', 'tag-1', 'tag-2']);
  });

  it('trusts the statistics of a file that keeps its recorded size and mtime', async () => {
    const partition = flights[1] as Partition;
    const stats = statsOf(partition);
    const edited: Partition = {
      ...partition,
      manifest: {
        ...partition.manifest,
        files: [
          {
            ...(partition.manifest.files[0] as PartitionManifest['files'][number]),
            stats: {
              ...stats,
              nullCounts: { ...stats.nullCounts, distance: 1 },
              values: { ...stats.values, origin: [...(stats.values.origin ?? []), 'ZZZ'] },
            },
          },
        ],
      },
    };
    // Every column the flights read uses is an integer: no file needs a scan unless a null is recorded.
    const read = await validate({ partitions: [partition], fitted: flightsFitted });
    const fromEdited = await validate({ partitions: [edited], fitted: flightsFitted });
    expect([read.report.scannedFiles, fromEdited.report.scannedFiles]).toEqual([0, 1]);
    expect(fromEdited.sliceValues.get('origin')).toEqual([...(read.sliceValues.get('origin') ?? []), 'ZZZ']);
  });

  it('reads the footer of a file rewritten after its manifest, not the stale statistics', async () => {
    const dataset = path.join(root, 'rewritten');
    await writeTestPartition(dataset, '2001-01-02', goodRows());
    await writeTestPartition(
      path.join(root, 'scratch'),
      '2001-01-02',
      `SELECT * RENAME (count AS cnt_x) FROM (${goodRows()})`,
    );
    const [partition] = await listPartitions(dataset);
    const file = partition?.files[0] as string;
    const { size } = await stat(file);
    await cp(path.join(root, 'scratch', 'date=2001-01-02', 'part-0.parquet'), file);
    // Same size, but listing verifies sha256: the copy is refused by name.
    expect((await stat(file)).size).toBe(size);
    await utimes(file, new Date('2001-01-02T00:00:00Z'), new Date('2001-01-02T00:00:00Z'));
    await expect(listPartitions(dataset)).rejects.toThrow(ChecksumError);
    // Replaced after it was listed: validation reads its footer, not the manifest's statistics,
    // as the mtime differs (set here: the clock may not have ticked since the write).
    const partitions = partition === undefined ? [] : [partition];
    expect(partitions[0]?.manifest.files[0]?.stats?.nullCounts).toHaveProperty('count', 0);
    const read = validate({ partitions, fitted });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(`${file}: missing column 'count' (expected integer or float`);
  });

  it('reads partitions whose manifests have no statistics, and a rerun adds them keeping the files', async () => {
    const dataDir = path.join(root, 'old');
    const { datasetDir } = await prepareFlights({ dataDir, from: '2001-01-02', to: '2001-01-03' });
    for (const partition of await listPartitions(datasetDir)) {
      await writeFile(
        path.join(partition.dir, MANIFEST_FILE),
        `${JSON.stringify(manifestWithoutStats(partition.manifest), null, 2)}\n`,
      );
    }
    const old = await listPartitions(datasetDir);
    expect(old.flatMap((partition) => partition.manifest.files).some((file) => 'stats' in file)).toBe(false);
    const oldRead = await validate({ partitions: old, fitted: flightsFitted });
    expect(oldRead.report.rows).toBe(old.reduce((rows, partition) => rows + partition.manifest.rowCount, 0));
    const fingerprints = async () =>
      Promise.all(
        old.map(async (partition) => {
          const file = partition.files[0] as string;
          return [await sha256File(file), (await stat(file)).mtimeMs];
        }),
      );
    const before = await fingerprints();

    const rerun = await prepareFlights({ dataDir, from: '2001-01-02', to: '2001-01-03' });
    expect([rerun.written, rerun.unchanged]).toEqual([0, 2]);
    expect(await fingerprints()).toEqual(before);
    const upgraded = await listPartitions(datasetDir);
    for (const [index, partition] of upgraded.entries()) {
      expect(statsOf(partition).mtimeMs).toBe(before[index]?.[1]);
      expect(partition.manifest.createdAt).toBe(old[index]?.manifest.createdAt);
      expect(await readdir(partition.dir)).toEqual([MANIFEST_FILE, 'part-0.parquet']);
    }
    expect(await validate({ partitions: upgraded, fitted: flightsFitted })).toEqual(oldRead);
    const third = await prepareFlights({ dataDir, from: '2001-01-02', to: '2001-01-03' });
    expect(third.unchanged).toBe(2);
  });

  it('rewrites a manifest in place atomically: a concurrent reader always reads a whole one', async () => {
    const partition = mixed[0] as Partition;
    const dir = await tempDir('manifest-rewrite');
    const text = await readFile(path.join(partition.dir, MANIFEST_FILE), 'utf8');
    await writeFile(path.join(dir, MANIFEST_FILE), text);
    let writing = true;
    const writes = (async () => {
      for (let round = 0; round < 40; round++) await writeManifest(dir, partition.manifest);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      expect((await readManifest(dir))?.files).toEqual(partition.manifest.files);
      reads++;
    }
    await writes;
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual([MANIFEST_FILE]);
  });
});

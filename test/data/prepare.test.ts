import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/data/hash.ts';
import {
  flightsSourceFile,
  listPartitions,
  MANIFEST_FILE,
  PARTITION_ROW_GROUP_ROWS,
  type PrepareFlightsResult,
  parseDay,
  prepareFlights,
  rowGroupsOf,
} from '../../src/data/index.ts';
import { DataError, UsageError } from '../../src/errors.ts';
import { parquetOf, query, tempDir } from './helpers.ts';

const FROM = '2001-01-02';
const TO = '2001-01-04';

async function sourceCountsPerDay(from: string, to: string): Promise<Record<string, number>> {
  const rows = await query(
    `SELECT strftime(date::DATE, '%Y-%m-%d'), count(*) FROM ${parquetOf(flightsSourceFile())}
     WHERE date::DATE BETWEEN DATE '${from}' AND DATE '${to}' GROUP BY 1`,
  );
  return Object.fromEntries(rows.map(([day, count]) => [String(day), Number(count)]));
}

async function fileFingerprints(datasetDir: string): Promise<Record<string, string>> {
  const fingerprints: Record<string, string> = {};
  for (const dir of (await readdir(datasetDir)).sort()) {
    for (const name of (await readdir(path.join(datasetDir, dir))).sort()) {
      const file = path.join(datasetDir, dir, name);
      fingerprints[`${dir}/${name}`] = `${(await stat(file)).mtimeMs}:${await sha256File(file)}`;
    }
  }
  return fingerprints;
}

describe('prepareFlights', () => {
  let dataDir: string;
  let first: PrepareFlightsResult;

  beforeAll(async () => {
    dataDir = await tempDir('prepare');
    first = await prepareFlights({ dataDir, from: FROM, to: TO });
  });

  it('writes one partition a day whose row count equals the source day', async () => {
    const expected = await sourceCountsPerDay(FROM, TO);
    expect(Object.keys(expected).sort()).toEqual(['2001-01-02', '2001-01-03', '2001-01-04']);
    expect(first.written).toBe(3);
    const partitions = await listPartitions(first.datasetDir);
    expect(partitions.map((p) => p.date)).toEqual(['2001-01-02', '2001-01-03', '2001-01-04']);
    for (const partition of partitions) {
      const [[rows]] = (await query(`SELECT count(*) FROM ${parquetOf(partition.files[0] as string)}`)) as [
        [bigint],
      ];
      expect(Number(rows)).toBe(expected[partition.date]);
      expect(partition.manifest.rowCount).toBe(expected[partition.date]);
    }
    expect(first.rows).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
  });

  it('writes each day in row groups of 8,192 rows, so that one day can be split between scoring workers', async () => {
    const partitions = await listPartitions(first.datasetDir);
    const groups = await rowGroupsOf(partitions.map((partition) => partition.files[0] as string));
    for (const partition of partitions) {
      const sizes = groups.get(partition.files[0] as string) ?? [];
      expect(sizes.length).toBeGreaterThanOrEqual(2);
      expect(sizes.slice(0, -1).every((size) => size === PARTITION_ROW_GROUP_ROWS)).toBe(true);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(partition.manifest.rowCount);
    }
  });

  it('keeps every source row exactly once, with the source values and the departure time of day', async () => {
    const [[missing, extra]] = (await query(
      `WITH source AS (SELECT file_row_number AS flight_id, date AS departure_time, delay, distance, origin, destination
          FROM read_parquet('${flightsSourceFile()}', file_row_number = true) WHERE date::DATE BETWEEN DATE '${FROM}' AND DATE '${TO}'),
        prepared AS (SELECT * FROM read_parquet('${first.datasetDir}/*/*.parquet', hive_partitioning = false))
       SELECT (SELECT count(*) FROM (FROM source EXCEPT ALL FROM prepared)), (SELECT count(*) FROM (FROM prepared EXCEPT ALL FROM source))`,
    )) as [[bigint, bigint]];
    expect([Number(missing), Number(extra)]).toEqual([0, 0]);
  });

  it('writes a manifest with row count, schema, and each file sha256', async () => {
    const dir = path.join(first.datasetDir, 'date=2001-01-03');
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.schema).toEqual([
      { name: 'flight_id', type: 'BIGINT' },
      { name: 'departure_time', type: 'TIMESTAMP' },
      { name: 'delay', type: 'BIGINT' },
      { name: 'distance', type: 'BIGINT' },
      { name: 'origin', type: 'VARCHAR' },
      { name: 'destination', type: 'VARCHAR' },
    ]);
    expect(manifest.files).toHaveLength(1);
    expect(manifest.files[0].sha256).toBe(await sha256File(path.join(dir, 'part-0.parquet')));
    expect(manifest.files[0].bytes).toBe((await stat(path.join(dir, 'part-0.parquet'))).size);
    expect(Date.parse(manifest.createdAt)).not.toBeNaN();
  });

  it('changes nothing on a second run', async () => {
    const before = await fileFingerprints(first.datasetDir);
    const second = await prepareFlights({ dataDir, from: FROM, to: TO });
    expect([second.written, second.unchanged, second.rows]).toEqual([0, 3, first.rows]);
    expect(await fileFingerprints(first.datasetDir)).toEqual(before);
  });

  it('gives the same ids and bytes whatever the --from/--to window', async () => {
    const otherDir = await tempDir('prepare-window');
    await prepareFlights({ dataDir: otherDir, from: '2001-01-03', to: '2001-01-03' });
    const a = await sha256File(path.join(first.datasetDir, 'date=2001-01-03', 'part-0.parquet'));
    const b = await sha256File(path.join(otherDir, 'flights', 'date=2001-01-03', 'part-0.parquet'));
    expect(b).toBe(a);
  });

  it('rewrites a damaged partition byte-identical to the first write, and leaves no temporary folder', async () => {
    const file = path.join(first.datasetDir, 'date=2001-01-04', 'part-0.parquet');
    const original = await sha256File(file);
    await truncate(file, 1000);
    const rerun = await prepareFlights({ dataDir, from: FROM, to: TO });
    expect(rerun.partitions.find((p) => p.date === '2001-01-04')?.status).toBe('written');
    expect(await sha256File(file)).toBe(original);
    expect((await readdir(first.datasetDir)).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('refuses a corrupt source by name and writes nothing', async () => {
    const dir = await tempDir('prepare-corrupt');
    const source = path.join(dir, 'flights.parquet');
    await writeFile(source, (await readFile(flightsSourceFile())).subarray(0, 100_000));
    const attempt = prepareFlights({ dataDir: dir, from: FROM, to: TO, sourceFile: source });
    await expect(attempt).rejects.toThrow(DataError);
    await expect(attempt).rejects.toThrow(source);
    await expect(readdir(path.join(dir, 'flights'))).rejects.toThrow(/ENOENT/);
    await rm(source);
  });

  it('refuses a window that ends before it starts', async () => {
    await expect(prepareFlights({ dataDir, from: '2001-01-05', to: '2001-01-01' })).rejects.toThrow(
      UsageError,
    );
  });
});

describe('parseDay', () => {
  it('accepts calendar dates and refuses anything else with one clear line', () => {
    expect(parseDay('2001-02-28', '--from')).toBe('2001-02-28');
    for (const bad of ['2001-02-30', '2001-13-01', '20010101', '2001-1-1', 'yesterday']) {
      expect(() => parseDay(bad, '--from')).toThrow(UsageError);
      expect(() => parseDay(bad, '--from')).toThrow(`--from: expected a date as YYYY-MM-DD, got '${bad}'`);
    }
  });
});

import { copyFile, mkdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/data/hash.ts';
import {
  listPartitions,
  type Partition,
  prepareFlights,
  resolveParquetInputs,
} from '../../src/data/index.ts';
import { DataError, UsageError } from '../../src/errors.ts';
import { tempDir } from './helpers.ts';

/**
 * `score --input` resolution: partition and dataset folders through their manifests (verified),
 * plain Parquet files, folders of them and globs as Ray Data reads paths.
 */
describe('score inputs', () => {
  let root: string;
  let prepared: Partition[];
  let plainDir: string;

  beforeAll(async () => {
    root = await tempDir('score-inputs');
    await prepareFlights({ dataDir: root, from: '2001-01-08', to: '2001-01-09' });
    prepared = await listPartitions(path.join(root, 'flights'));
    // The same files copied out as a user's plain Parquet: one loose, one in a hive date= folder.
    plainDir = path.join(root, 'plain');
    await mkdir(path.join(plainDir, 'date=2001-01-09'), { recursive: true });
    await copyFile(prepared[0]?.files[0] as string, path.join(plainDir, 'a.parquet'));
    await copyFile(prepared[1]?.files[0] as string, path.join(plainDir, 'date=2001-01-09', 'b.parquet'));
  });

  it('reads partition and dataset folders through their manifests, as before', async () => {
    const day = await resolveParquetInputs([prepared[1]?.dir as string]);
    expect(day.map((p) => p.date)).toEqual(['2001-01-09']);
    const dataset = await resolveParquetInputs([path.join(root, 'flights')], { date: '2001-01-08' });
    expect(dataset.map((p) => [p.date, p.manifest.rowCount])).toEqual([
      ['2001-01-08', prepared[0]?.manifest.rowCount],
    ]);
  });

  it('takes a plain file with --date, a date= folder as its day, and records each file sha256 and rows', async () => {
    const partitions = await resolveParquetInputs([plainDir], { date: '2001-01-08' });
    expect(partitions.map((p) => [p.date, p.files.map((f) => path.basename(f))])).toEqual([
      ['2001-01-08', ['a.parquet']],
      ['2001-01-09', ['b.parquet']],
    ]);
    expect(partitions[0]?.manifest.files[0]).toMatchObject({
      rows: prepared[0]?.manifest.rowCount,
      sha256: await sha256File(path.join(plainDir, 'a.parquet')),
    });
    const globbed = await resolveParquetInputs([path.join(plainDir, '**', '*.parquet')], {
      date: '2001-01-08',
    });
    expect(globbed.map((p) => p.manifest.rowCount)).toEqual(partitions.map((p) => p.manifest.rowCount));
    // --from/--to keep only the days asked for.
    const window = await resolveParquetInputs([plainDir], { date: '2001-01-08', from: '2001-01-09' });
    expect(window.map((p) => p.date)).toEqual(['2001-01-09']);
  });

  it('needs --date for a file outside any date= folder', async () => {
    const attempt = resolveParquetInputs([path.join(plainDir, 'a.parquet')]);
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(attempt).rejects.toThrow('not in a date=YYYY-MM-DD folder; pass --date D');
  });

  it("still verifies a partition's manifest when its files are named one by one", async () => {
    const dataDir = path.join(root, 'damaged');
    await prepareFlights({ dataDir, from: '2001-01-08', to: '2001-01-08' });
    const [partition] = await listPartitions(path.join(dataDir, 'flights'));
    const file = partition?.files[0] as string;
    expect((await resolveParquetInputs([file]))[0]?.manifest).toEqual(partition?.manifest);
    // A stray file in a partition folder is not part of it.
    const stray = path.join(partition?.dir as string, 'extra.parquet');
    await copyFile(file, stray);
    await expect(resolveParquetInputs([stray])).rejects.toThrow(DataError);
    await expect(resolveParquetInputs([stray])).rejects.toThrow(/does not list it/);
    await truncate(file, 100);
    await expect(resolveParquetInputs([file])).rejects.toThrow(
      /expected \d+ bytes as recorded in _manifest\.json, found 100/,
    );
  });

  it('refuses what is not there, and a file that is not Parquet', async () => {
    await expect(resolveParquetInputs([path.join(root, 'nope')])).rejects.toThrow('found nothing at');
    await expect(resolveParquetInputs([path.join(root, 'nope-*.parquet')])).rejects.toThrow(
      'no Parquet file matches',
    );
    const fake = path.join(root, 'fake', 'x.parquet');
    await mkdir(path.dirname(fake), { recursive: true });
    await writeFile(fake, 'not parquet');
    await expect(resolveParquetInputs([fake], { date: '2001-01-08' })).rejects.toThrow(
      `${fake}: expected a readable Parquet file`,
    );
  });
});

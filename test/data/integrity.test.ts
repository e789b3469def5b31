import { execFile } from 'node:child_process';
import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/data/hash.ts';
import { listPartitions, MANIFEST_FILE, prepareFlights, readWindow } from '../../src/data/index.ts';
import { readPartition } from '../../src/data/partitions.ts';
import { clearVerifiedFiles, verifiedBytesHashed } from '../../src/data/verifiedFiles.ts';
import { ChecksumError, DataError } from '../../src/errors.ts';
import { flipBit } from '../helpers/damage.ts';
import { tempDir } from './helpers.ts';

/**
 * Issue 13, items 1 to 3 on real flights partitions: a flipped bit anywhere in a file fails the
 * read by name with both sums; a manifest naming a file outside its folder is refused; a window
 * with a day missing is refused naming the day.
 */

describe('partition reads verify every byte', () => {
  let source: string;
  let root: string;
  beforeAll(async () => {
    root = await tempDir('integrity');
    source = path.join(root, 'source');
    await prepareFlights({ dataDir: source, from: '2001-01-08', to: '2001-01-10' });
  }, 60_000);

  /** A fresh copy of the prepared dataset, so each case damages its own files. */
  async function copyOf(name: string): Promise<string> {
    const dataset = path.join(root, name, 'flights');
    await cp(path.join(source, 'flights'), dataset, { recursive: true });
    return dataset;
  }

  it('fails naming the file, the recorded and the found sha256 for one flipped bit at any of five offsets', async () => {
    const dataset = await copyOf('flipped');
    const file = path.join(dataset, 'date=2001-01-09', 'part-0.parquet');
    const recorded = (await listPartitions(dataset))[1]?.manifest.files[0]?.sha256 as string;
    const size = (await stat(file)).size;
    // The magic bytes, a data page, the middle, the footer's metadata, its trailing magic.
    for (const offset of [0, 200, Math.floor(size / 2), size - 40, size - 1]) {
      await flipBit(file, offset, 0x10);
      const found = await sha256File(file);
      const error = await listPartitions(dataset, { from: '2001-01-08', to: '2001-01-10' }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error, `offset ${offset}`).toBeInstanceOf(ChecksumError);
      const mismatch = error as ChecksumError;
      expect(mismatch.retriable).toBe(false);
      expect(mismatch.message).toContain(file);
      expect(mismatch.message).toContain(recorded);
      expect(mismatch.message).toContain(found);
      expect([mismatch.file, mismatch.expected, mismatch.found]).toEqual([file, recorded, found]);
      await flipBit(file, offset, 0x10);
      expect((await listPartitions(dataset)).map((partition) => partition.date)).toHaveLength(3);
    }
  });

  it('hashes a file once per process while it is unchanged, and again once it is written to', async () => {
    const dataset = await copyOf('cached');
    clearVerifiedFiles();
    const first = verifiedBytesHashed();
    await listPartitions(dataset);
    const hashed = verifiedBytesHashed() - first;
    const files = (await listPartitions(dataset)).flatMap((partition) => partition.files);
    const sizes = await Promise.all(files.map(async (file) => (await stat(file)).size));
    expect(hashed).toBe(sizes.reduce((sum, size) => sum + size, 0));
    // The second listing was a cache hit for every file.
    expect(verifiedBytesHashed() - first).toBe(hashed);

    // A write with the mtime set back afterwards (`touch -d`) still changes the ctime: caught.
    const file = files[0] as string;
    const before = await stat(file, { bigint: true });
    await flipBit(file, 500, 0x10);
    const ns = before.mtimeNs;
    const seconds = `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
    await promisify(execFile)('touch', ['-m', '-d', `@${seconds}`, file]);
    expect((await stat(file, { bigint: true })).mtimeNs).toBe(before.mtimeNs);
    expect((await stat(file)).size).toBe(Number(before.size));
    await expect(listPartitions(dataset)).rejects.toThrow(ChecksumError);
  });

  it('verifies only the files a shard reads, and those by sha256', async () => {
    const dataset = await copyOf('only');
    const dir = path.join(dataset, 'date=2001-01-08');
    const file = path.join(dir, 'part-0.parquet');
    await flipBit(file, 300, 0x10);
    await expect(readPartition(dataset, '2001-01-08', new Set([file]))).rejects.toThrow(ChecksumError);
    const none = await readPartition(dataset, '2001-01-08', new Set());
    expect(none?.files).toEqual([]);
  });
});

describe('a manifest names only files of its own folder', () => {
  let dataset: string;
  beforeAll(async () => {
    const root = await tempDir('confined');
    await prepareFlights({ dataDir: root, from: '2001-01-28', to: '2001-01-29' });
    dataset = path.join(root, 'flights');
  }, 60_000);

  const hostileNames = [
    '../date=2001-01-28/part-0.parquet',
    '../../../../../../../etc/passwd',
    '/etc/passwd',
    'sub/part-0.parquet',
    '..\\date=2001-01-28\\part-0.parquet',
    '..',
    '',
  ];

  it.each(hostileNames)(
    'refuses %j when the manifest is read, naming the manifest and the name',
    async (name) => {
      const manifestFile = path.join(dataset, 'date=2001-01-29', MANIFEST_FILE);
      const original = await readFile(manifestFile, 'utf8');
      // Day 28's own sums under a name that points at it: without the check, day 28 is read as 29.
      const day28 = JSON.parse(await readFile(path.join(dataset, 'date=2001-01-28', MANIFEST_FILE), 'utf8'));
      const crafted = JSON.parse(original);
      crafted.files = [{ ...day28.files[0], name }];
      crafted.rowCount = day28.rowCount;
      await writeFile(manifestFile, JSON.stringify(crafted));
      try {
        const error = await listPartitions(dataset).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(error).toBeInstanceOf(DataError);
        expect((error as DataError).message).toContain(manifestFile);
        expect((error as DataError).message).toContain(JSON.stringify(name));
        expect((error as DataError).retriable).toBe(false);
      } finally {
        await writeFile(manifestFile, original);
      }
      expect((await listPartitions(dataset)).map((partition) => partition.date)).toEqual([
        '2001-01-28',
        '2001-01-29',
      ]);
    },
  );
});

describe('a window of days asked for is complete', () => {
  let dataset: string;
  beforeAll(async () => {
    const root = await tempDir('window');
    await prepareFlights({ dataDir: root, from: '2001-01-08', to: '2001-01-12' });
    dataset = path.join(root, 'flights');
    await rm(path.join(dataset, 'date=2001-01-10', MANIFEST_FILE));
    await rm(path.join(dataset, 'date=2001-01-11'), { recursive: true });
  }, 60_000);

  it('fails naming each missing day and why', async () => {
    const read = readWindow(dataset, '2001-01-08', '2001-01-12', { what: 'train flights-delay' });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(
      /train flights-delay: .*missing 2 of 5: 2001-01-10 \(its folder has no _manifest\.json\), 2001-01-11 \(no folder\)/,
    );
  });

  it('returns the gaps when they are allowed', async () => {
    const window = await readWindow(dataset, '2001-01-08', '2001-01-12', { allowGaps: true });
    expect(window.partitions.map((partition) => partition.date)).toEqual([
      '2001-01-08',
      '2001-01-09',
      '2001-01-12',
    ]);
    expect(window.missing).toEqual(['2001-01-10', '2001-01-11']);
  });

  it('accepts a complete window', async () => {
    const window = await readWindow(dataset, '2001-01-08', '2001-01-09');
    expect(window.missing).toEqual([]);
    expect(window.partitions).toHaveLength(2);
  });
});

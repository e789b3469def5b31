import { cp, mkdir, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flightsDelayFeatures } from '../../pipelines/flights-delay/features.ts';
import {
  defineFeatures,
  errorSinkFile,
  errorSinkFor,
  type FittedFeatures,
  fitFeatures,
  listPartitions,
  MANIFEST_FILE,
  openFeatureStream,
  type Partition,
  prepareFlights,
  readFeatures,
} from '../../src/data/index.ts';
import { DataError } from '../../src/errors.ts';
import { query, tempDir, writeTestPartition } from './helpers.ts';

/** A small dataset with a float column, so that NaN and infinity are possible. */
const spec = defineFeatures({
  name: 'bad-input',
  version: 1,
  id: 'id',
  features: {
    speed: { kind: 'numeric', column: 'speed', log1p: true, standardize: true },
    hour: { kind: 'cyclic', column: 'seen_at', unit: 'hourOfDay' },
    colour: { kind: 'categorical', column: 'colour', encoding: { type: 'vocabulary', topN: 5 } },
  },
  label: { kind: 'binary', column: 'late', positiveWhen: { op: '>', value: 15 } },
});

const ROWS = 1000;
const goodRows = (extra = '') => `SELECT i::BIGINT AS id, (i % 97)::DOUBLE AS speed,
    TIMESTAMP '2001-01-01' + to_minutes(i) AS seen_at, ['red', 'green', 'blue'][i % 3 + 1] AS colour,
    (i % 40)::BIGINT AS late ${extra} FROM range(${ROWS}) t(i)`;

/** Rows 10, 20 and 30 break the contract: NaN speed, null speed, null label. */
const rowsWithThreeBad = `SELECT id, CASE WHEN id = 10 THEN 'NaN'::DOUBLE WHEN id = 20 THEN NULL ELSE speed END AS speed,
    seen_at, colour, CASE WHEN id = 30 THEN NULL ELSE late END AS late FROM (${goodRows()})`;

describe('bad input', () => {
  let root: string;
  let home: string;
  let fitted: FittedFeatures;

  beforeAll(async () => {
    root = await tempDir('bad-input');
    home = path.join(root, 'home');
    await writeTestPartition(path.join(root, 'good'), '2001-01-01', goodRows());
    fitted = await fitFeatures(spec, await listPartitions(path.join(root, 'good')));
  });

  async function partitionOf(dataset: string, date: string, sql: string): Promise<Partition[]> {
    await writeTestPartition(path.join(root, dataset), date, sql);
    return listPartitions(path.join(root, dataset));
  }

  it('names the file and the column when a column is missing', async () => {
    const partitions = await partitionOf(
      'renamed',
      '2001-01-02',
      `SELECT * RENAME (speed AS velocity) FROM (${goodRows()})`,
    );
    const file = partitions[0]?.files[0] as string;
    const read = readFeatures({ partitions, fitted });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(
      `${file}: missing column 'speed' (expected integer or float, used by feature 'speed')`,
    );
  });

  it('names the file, the column, what was expected and what was found for a wrong type', async () => {
    const partitions = await partitionOf(
      'typed',
      '2001-01-02',
      `SELECT * REPLACE (speed::VARCHAR AS speed) FROM (${goodRows()})`,
    );
    await expect(readFeatures({ partitions, fitted })).rejects.toThrow(
      `${partitions[0]?.files[0]}: column 'speed' (used by feature 'speed'): expected integer or float, found VARCHAR`,
    );
  });

  it('sends NaN and null rows to the error sink with reason and source row, and keeps every valid row', async () => {
    const partitions = await partitionOf('nan', '2001-01-02', rowsWithThreeBad);
    const sink = errorSinkFor(home, 'flights-nightly', 'features');
    const { batch, report } = await readFeatures({ partitions, fitted, errorSink: sink });
    expect([report.rows, report.errorRows, batch.rowCount]).toEqual([ROWS, 3, ROWS - 3]);
    const ids = [...(batch.ids as BigInt64Array)].map(Number);
    expect(ids).toEqual([...Array(ROWS).keys()].filter((id) => ![10, 20, 30].includes(id)));
    expect(batch.features.every(Number.isFinite)).toBe(true);

    const sinkFile = errorSinkFile(sink, '2001-01-02');
    expect(report.errorFiles).toEqual([sinkFile]);
    expect(sinkFile).toBe(
      path.join(home, 'errors', 'flights-nightly', 'date=2001-01-02', 'features.parquet'),
    );
    const rows = await query(
      `SELECT raw, reason, source_file, source_row FROM read_parquet('${sinkFile}') ORDER BY source_row`,
    );
    expect(JSON.parse(String(rows[0]?.[0]))).toMatchObject({
      id: 10,
      speed: 'nan',
      colour: 'green',
      late: 10,
    });
    expect(rows.map((row) => [JSON.parse(String(row[0])).id, row[1], row[2], Number(row[3])])).toEqual([
      [
        10,
        "feature 'speed', column 'speed': NaN or infinite, expected a finite number",
        partitions[0]?.files[0],
        10,
      ],
      [20, "feature 'speed', column 'speed': null, expected a finite number", partitions[0]?.files[0], 20],
      [30, "label column 'late' is null, expected a value", partitions[0]?.files[0], 30],
    ]);
  });

  it('reads a row range of a file: only its rows are counted, sunk and returned', async () => {
    const partitions = await partitionOf('ranged', '2001-01-02', rowsWithThreeBad);
    const file = partitions[0]?.files[0] as string;
    const sink = errorSinkFor(home, 'ranged', 'features');
    const { batch, report } = await readFeatures({
      partitions,
      fitted,
      errorSink: sink,
      rowRanges: new Map([[file, { from: 15, to: 500 }]]),
    });
    // Rows 20 and 30 are in [15, 500); row 10 is not.
    expect([report.rows, report.errorRows, batch.rowCount]).toEqual([485, 2, 483]);
    const ids = [...(batch.ids as BigInt64Array)].map(Number);
    expect(ids).toEqual([...Array(485).keys()].map((i) => i + 15).filter((id) => id !== 20 && id !== 30));
    const sunk = await query(
      `SELECT source_row FROM read_parquet('${errorSinkFile(sink, '2001-01-02')}') ORDER BY source_row`,
    );
    expect(sunk.map((row) => Number(row[0]))).toEqual([20, 30]);
  });

  it('fails when bad rows exceed maxErrorRate, after writing them to the sink', async () => {
    const partitions = await partitionOf('too-many', '2001-01-02', rowsWithThreeBad);
    const sink = errorSinkFor(home, 'strict', 'features');
    const read = readFeatures({ partitions, fitted, errorSink: sink, maxErrorRate: 0.001 });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow('3 of 1000 rows (0.30%) broke the feature contract');
    expect((await stat(errorSinkFile(sink, '2001-01-02'))).size).toBeGreaterThan(0);
  });

  it('removes a stale error file when a rerun finds no bad rows', async () => {
    const sink = errorSinkFor(home, 'rerun', 'features');
    const dataset = path.join(root, 'fixed');
    await writeTestPartition(dataset, '2001-01-02', rowsWithThreeBad);
    await readFeatures({ partitions: await listPartitions(dataset), fitted, errorSink: sink });
    await writeTestPartition(dataset, '2001-01-02', goodRows());
    const { report } = await readFeatures({
      partitions: await listPartitions(dataset),
      fitted,
      errorSink: sink,
    });
    expect(report.errorRows).toBe(0);
    await expect(stat(errorSinkFile(sink, '2001-01-02'))).rejects.toThrow(/ENOENT/);
  });

  it('names a truncated file and says it no longer matches its manifest', async () => {
    const partitions = await partitionOf('truncated', '2001-01-02', goodRows());
    const file = partitions[0]?.files[0] as string;
    await truncate(file, (await stat(file)).size - 100);
    const list = listPartitions(path.join(root, 'truncated'));
    await expect(list).rejects.toThrow(DataError);
    await expect(list).rejects.toThrow(
      new RegExp(
        `${file}: expected \\d+ bytes as recorded in _manifest.json, found \\d+.*not readable Parquet`,
      ),
    );
  });

  it('explains which column changed when a copied partition had a column renamed', async () => {
    const copy = path.join(root, 'copy');
    await partitionOf('original', '2001-01-02', goodRows());
    await cp(path.join(root, 'original'), copy, { recursive: true });
    const file = path.join(copy, 'date=2001-01-02', 'part-0.parquet');
    await writeTestPartition(
      path.join(root, 'scratch'),
      '2001-01-02',
      `SELECT * RENAME (colour AS color) FROM (${goodRows()})`,
    );
    await cp(path.join(root, 'scratch', 'date=2001-01-02', 'part-0.parquet'), file);
    await expect(listPartitions(copy)).rejects.toThrow(
      /missing column 'colour' \(expected VARCHAR\); unexpected column 'color' \(VARCHAR\)/,
    );
  });

  it('fails by name on a corrupt file even when its size is unchanged, writing nothing', async () => {
    const partitions = await partitionOf('corrupt', '2001-01-02', goodRows());
    const file = partitions[0]?.files[0] as string;
    const handle = await open(file, 'r+');
    await handle.write(Buffer.alloc(2000, 0xab), 0, 2000, 200);
    await handle.close();
    await expect(listPartitions(path.join(root, 'corrupt'))).rejects.toThrow(`${file}: expected sha256`);
    const sink = errorSinkFor(home, 'corrupt', 'features');
    const read = readFeatures({ partitions, fitted, errorSink: sink });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(file);
    await expect(readdir(sink.dir)).rejects.toThrow(/ENOENT/);
  });

  it('skips a partition folder without a manifest and refuses a malformed manifest by name', async () => {
    const dataset = path.join(root, 'manifests');
    await writeTestPartition(dataset, '2001-01-02', goodRows());
    await cp(path.join(dataset, 'date=2001-01-02'), path.join(dataset, 'date=2001-01-03'), {
      recursive: true,
    });
    await rm(path.join(dataset, 'date=2001-01-03', MANIFEST_FILE));
    expect((await listPartitions(dataset)).map((partition) => partition.date)).toEqual(['2001-01-02']);
    await mkdir(path.join(dataset, 'date=2001-01-04'));
    await writeFile(path.join(dataset, 'date=2001-01-04', MANIFEST_FILE), '{"format": 1, "rowC');
    await expect(listPartitions(dataset)).rejects.toThrow(
      `${path.join(dataset, 'date=2001-01-04', MANIFEST_FILE)}: expected a JSON partition manifest`,
    );
  });
});

describe('a corrupt data page far into a big file', () => {
  it('fails the read naming the file, even when DuckDB meets it after running ahead of the reader', async () => {
    const dir = await tempDir('corrupt-big');
    const datasetDir = path.join(dir, 'big');
    // 600k rows in 5 row groups: more than DuckDB buffers ahead of a streaming reader (16 MB).
    await writeTestPartition(
      datasetDir,
      '2001-01-02',
      `SELECT i::BIGINT AS id, (i % 97)::BIGINT AS speed, TIMESTAMP '2001-01-02' + to_seconds(i % 86400) AS seen_at,
         ['red', 'green', 'blue'][i % 3 + 1] AS colour, hash(i) % 40 AS late FROM range(600000) t(i)`,
    );
    const partitions = await listPartitions(datasetDir);
    const file = partitions[0]?.files[0] as string;
    const fitted = await fitFeatures(spec, partitions);
    const { size } = await stat(file);
    const handle = await open(file, 'r+');
    // In the last row group's pages, the footer untouched.
    await handle.write(Buffer.alloc(20_000, 0x5a), 0, 20_000, Math.floor(size * 0.85));
    await handle.close();
    const stream = await openFeatureStream({ partitions, fitted, batchRows: 65_536, reuseBuffers: true });
    const read = (async () => {
      for await (const _ of stream);
    })();
    await expect(read).rejects.toThrow(`${file}: expected a readable Parquet file, reading failed`);
  });
});

describe('a corrupt data page in a file whose footer looks clean', () => {
  it('fails the read naming the file', async () => {
    const dir = await tempDir('corrupt-pages');
    const { datasetDir } = await prepareFlights({ dataDir: dir, from: '2001-01-02', to: '2001-01-03' });
    const partitions = await listPartitions(datasetDir);
    const fitted = await fitFeatures(flightsDelayFeatures, partitions.slice(0, 1));
    const file = partitions[1]?.files[0] as string;
    const handle = await open(file, 'r+');
    // Past the first column's pages, inside the data, the footer untouched.
    await handle.write(Buffer.alloc(4000, 0x5a), 0, 4000, 100_000);
    await handle.close();
    const read = readFeatures({ partitions, fitted });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(`${file}: expected a readable Parquet file, reading failed`);
  });
});

import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqlString } from '../../src/data/duckdb.ts';
import { fileStatsQuery } from '../../src/data/fileStats.ts';
import {
  errorSinkFile,
  errorSinkFor,
  importDataset,
  listPartitions,
  readContract,
} from '../../src/data/index.ts';
import { DataError, UsageError } from '../../src/errors.ts';
import { parquetOf, query, tempDir } from './helpers.ts';

/** A CSV of events over three days, with a null and an unparseable date among 40 good rows. */
function eventsCsv(options: { bad?: number; changeDay3?: boolean } = {}): string {
  const lines = ['event_id,at,amount,shop'];
  for (let i = 0; i < 40; i++) {
    const day = 1 + (i % 3);
    const amount = options.changeDay3 && day === 3 && i === 2 ? 999 : i * 1.5;
    lines.push(`${i},2024-03-0${day} ${String(i % 24).padStart(2, '0')}:15:00,${amount},shop-${i % 4}`);
  }
  for (let i = 0; i < (options.bad ?? 0); i++)
    lines.push(`${100 + i},${i % 2 === 0 ? '' : 'not a date'},1.0,shop-0`);
  return `${lines.join('\n')}\n`;
}

async function dayDirs(datasetDir: string): Promise<string[]> {
  return (await readdir(datasetDir).catch(() => [])).filter((name) => name.startsWith('date=')).sort();
}

describe('data import', () => {
  it('splits a CSV by the day of a string date column, with manifests and a recorded contract', async () => {
    const root = await tempDir('import-csv');
    const file = path.join(root, 'events.csv');
    await writeFile(file, eventsCsv());
    const result = await importDataset({
      dataDir: root,
      dataset: 'shop',
      inputs: [file],
      dateColumn: 'at',
      idColumn: 'event_id',
    });
    expect(result.format).toBe('csv');
    expect(result.days.map((d) => [d.date, d.status, d.rows])).toEqual([
      ['2024-03-01', 'written', 14],
      ['2024-03-02', 'written', 13],
      ['2024-03-03', 'written', 13],
    ]);
    const partitions = await listPartitions(path.join(root, 'shop'));
    expect(partitions.map((p) => p.manifest.rowCount)).toEqual([14, 13, 13]);
    // Each day holds exactly its rows, all columns kept.
    const rows = await query(
      `SELECT count(*)::INTEGER, count(DISTINCT "at"::DATE)::INTEGER, min("at"::DATE)::VARCHAR FROM ${parquetOf(partitions[1]?.files[0] as string)}`,
    );
    expect(rows).toEqual([[13, 1, '2024-03-02']]);
    expect(partitions[0]?.manifest.schema.map((c) => c.name)).toEqual(['event_id', 'at', 'amount', 'shop']);
    const contract = await readContract(path.join(root, 'shop'));
    expect(contract).toMatchObject({ dataset: 'shop', idColumn: 'event_id', eventTimeColumn: 'at' });
    expect(contract?.columns.map((c) => c.name)).toEqual(['event_id', 'at', 'amount', 'shop']);
  });

  it('leaves identical days untouched on a re-import, and replaces only the day that changed', async () => {
    const root = await tempDir('import-rerun');
    const file = path.join(root, 'events.csv');
    await writeFile(file, eventsCsv());
    const options = { dataDir: root, dataset: 'shop', inputs: [file], dateColumn: 'at' };
    await importDataset(options);
    const datasetDir = path.join(root, 'shop');
    const before = await Promise.all(
      (await dayDirs(datasetDir)).map((dir) => stat(path.join(datasetDir, dir, '_manifest.json'))),
    );

    const again = await importDataset(options);
    expect(again.days.map((d) => d.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);

    await writeFile(file, eventsCsv({ changeDay3: true }));
    const changed = await importDataset(options);
    expect(changed.days.map((d) => [d.date, d.status])).toEqual([
      ['2024-03-01', 'unchanged'],
      ['2024-03-02', 'unchanged'],
      ['2024-03-03', 'written'],
    ]);
    const after = await Promise.all(
      (await dayDirs(datasetDir)).map((dir) => stat(path.join(datasetDir, dir, '_manifest.json'))),
    );
    expect(after[0]?.mtimeMs).toBe(before[0]?.mtimeMs);
    expect(after[1]?.mtimeMs).toBe(before[1]?.mtimeMs);
    const [day3] = await listPartitions(datasetDir, { from: '2024-03-03' });
    expect(await query(`SELECT max(amount) FROM ${parquetOf(day3?.files[0] as string)}`)).toEqual([[999]]);
  });

  it('records the same statistics a scan of each written file gives', async () => {
    const root = await tempDir('import-stats');
    const file = path.join(root, 'events.csv');
    await writeFile(file, eventsCsv());
    await importDataset({ dataDir: root, dataset: 'shop', inputs: [file], dateColumn: 'at' });
    for (const partition of await listPartitions(path.join(root, 'shop'))) {
      const recorded = partition.manifest.files[0];
      const stats = fileStatsQuery(partition.manifest.schema);
      const [values] = await query(
        `SELECT ${stats.results.join(', ')} FROM (SELECT ${stats.aggregates.join(', ')} FROM ${parquetOf(partition.files[0] as string)})`,
      );
      const scanned = stats.read(values as unknown[], recorded?.stats?.mtimeMs ?? 0);
      expect(recorded?.stats).toEqual(scanned);
      expect(recorded?.stats?.values.shop).toEqual(['shop-0', 'shop-1', 'shop-2', 'shop-3']);
    }
  });

  it('sends rows without a day to the error sink with a reason, and writes them when under the rate', async () => {
    const root = await tempDir('import-errors');
    const file = path.join(root, 'events.csv');
    await writeFile(file, eventsCsv({ bad: 2 }));
    const sink = errorSinkFor(path.join(root, 'home'), 'import-shop', 'import');
    const result = await importDataset({
      dataDir: root,
      dataset: 'shop',
      inputs: [file],
      dateColumn: 'at',
      maxErrorRate: 0.1,
      errorSink: sink,
    });
    expect(result.errorRows).toBe(2);
    expect(result.rows).toBe(40);
    expect(result.errorFile).toBe(errorSinkFile(sink, new Date().toISOString().slice(0, 10)));
    const errors = await query(
      `SELECT reason, source_file, raw FROM ${parquetOf(result.errorFile as string)} ORDER BY raw`,
    );
    expect(errors).toEqual([
      ["date column 'at' is null", file, '{"event_id":100,"at":null,"amount":1.0,"shop":"shop-0"}'],
      [
        "date column 'at': expected a date or timestamp (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]); --date-format reads other layouts, found not a date",
        file,
        '{"event_id":101,"at":"not a date","amount":1.0,"shop":"shop-0"}',
      ],
    ]);
  });

  it('fails above maxErrorRate and writes no partition', async () => {
    const root = await tempDir('import-too-many');
    const file = path.join(root, 'events.csv');
    await writeFile(file, eventsCsv({ bad: 2 }));
    const attempt = importDataset({ dataDir: root, dataset: 'shop', inputs: [file], dateColumn: 'at' });
    await expect(attempt).rejects.toThrow(DataError);
    await expect(attempt).rejects.toThrow(
      /2 of 42 rows \(4\.76%\) have no valid day in at, more than maxErrorRate 1\.00%; nothing written/,
    );
    expect(await dayDirs(path.join(root, 'shop'))).toEqual([]);
    expect(await readContract(path.join(root, 'shop'))).toBeUndefined();
    // Nor a staging folder, nor an empty dataset folder.
    expect(await readdir(root)).toEqual(['events.csv']);
  });

  it('imports a one-day file with --date, and refuses rows of another day in its date column', async () => {
    const root = await tempDir('import-one-day');
    const file = path.join(root, 'day.ndjson');
    await writeFile(file, '{"id":1,"v":0.5}\n{"id":2,"v":1.5}\n');
    const result = await importDataset({
      dataDir: root,
      dataset: 'daily',
      inputs: [file],
      date: '2024-05-06',
    });
    expect(result.format).toBe('ndjson');
    expect(result.days).toEqual([{ date: '2024-05-06', status: 'written', rows: 2 }]);

    const csv = path.join(root, 'day.csv');
    await writeFile(csv, 'id,at\n1,2024-05-06 10:00\n2,2024-05-07 01:00\n');
    await expect(
      importDataset({ dataDir: root, dataset: 'other', inputs: [csv], dateColumn: 'at', date: '2024-05-06' }),
    ).rejects.toThrow(/1 of 2 rows/);
  });

  it('takes the day of an instant in --timezone', async () => {
    const root = await tempDir('import-tz');
    const file = path.join(root, 'tz.csv');
    // 23:30 UTC on the 1st is 00:30 on the 2nd in Paris (UTC+1 in January).
    await writeFile(file, 'id,at\n1,2024-01-01T23:30:00Z\n2,2024-01-01T12:00:00+00:00\n');
    const utc = await importDataset({ dataDir: root, dataset: 'utc', inputs: [file], dateColumn: 'at' });
    expect(utc.days.map((d) => [d.date, d.rows])).toEqual([['2024-01-01', 2]]);
    const paris = await importDataset({
      dataDir: root,
      dataset: 'paris',
      inputs: [file],
      dateColumn: 'at',
      timezone: 'Europe/Paris',
    });
    expect(paris.days.map((d) => [d.date, d.rows])).toEqual([
      ['2024-01-01', 1],
      ['2024-01-02', 1],
    ]);
    expect((await readContract(path.join(root, 'paris')))?.timezone).toBe('Europe/Paris');
  });

  it('reads Parquet folders and globs, keeps --from/--to, and reads integer dates with --date-format', async () => {
    const root = await tempDir('import-parquet');
    const folder = path.join(root, 'in', 'nested');
    await mkdir(folder, { recursive: true });
    for (const [name, base] of [
      ['a.parquet', 0],
      ['b.parquet', 100],
    ] as const) {
      await query(
        `COPY (SELECT (${base} + i)::BIGINT AS id, (20240101 + i % 5)::INTEGER AS ymd FROM range(10) t(i))
         TO ${sqlString(path.join(folder, name))} (FORMAT parquet)`,
      );
    }
    const fromFolder = await importDataset({
      dataDir: root,
      dataset: 'ints',
      inputs: [path.join(root, 'in')],
      dateColumn: 'ymd',
      dateFormat: '%Y%m%d',
      from: '2024-01-02',
      to: '2024-01-04',
    });
    expect(fromFolder.files).toHaveLength(2);
    expect(fromFolder.days.map((d) => [d.date, d.rows])).toEqual([
      ['2024-01-02', 4],
      ['2024-01-03', 4],
      ['2024-01-04', 4],
    ]);
    const fromGlob = await importDataset({
      dataDir: root,
      dataset: 'ints',
      inputs: [path.join(root, 'in', '**', '*.parquet')],
      dateColumn: 'ymd',
      dateFormat: '%Y%m%d',
    });
    expect(fromGlob.days.map((d) => [d.date, d.status])).toEqual([
      ['2024-01-01', 'written'],
      ['2024-01-02', 'unchanged'],
      ['2024-01-03', 'unchanged'],
      ['2024-01-04', 'unchanged'],
      ['2024-01-05', 'written'],
    ]);
    await expect(
      importDataset({ dataDir: root, dataset: 'ints2', inputs: [folder], dateColumn: 'ymd' }),
    ).rejects.toThrow(
      "--date-column 'ymd' is INTEGER: expected a DATE, TIMESTAMP, TIMESTAMPTZ or VARCHAR column, or --date-format",
    );
  });

  it('refuses data whose columns differ from the recorded contract, and a changed id column', async () => {
    const root = await tempDir('import-contract');
    const file = path.join(root, 'events.csv');
    await writeFile(file, eventsCsv());
    await importDataset({
      dataDir: root,
      dataset: 'shop',
      inputs: [file],
      dateColumn: 'at',
      idColumn: 'event_id',
    });
    const other = path.join(root, 'other.csv');
    await writeFile(other, 'event_id,at,price\n1,2024-03-01 10:00,2.5\n');
    await expect(
      importDataset({ dataDir: root, dataset: 'shop', inputs: [other], dateColumn: 'at' }),
    ).rejects.toThrow(
      /columns differ from the dataset's contract .*_dataset\.json: missing column 'amount' \(DOUBLE\); missing column 'shop' \(VARCHAR\); new column 'price' \(DOUBLE\)/,
    );
    await expect(
      importDataset({ dataDir: root, dataset: 'shop', inputs: [file], dateColumn: 'at', idColumn: 'shop' }),
    ).rejects.toThrow("--id-column 'shop' differs from the contract's 'event_id'");
    const text = await readFile(path.join(root, 'shop', '_dataset.json'), 'utf8');
    expect(JSON.parse(text).idColumn).toBe('event_id');
  });

  it('refuses bad usage with a clear message', async () => {
    const root = await tempDir('import-usage');
    await expect(
      importDataset({ dataDir: root, dataset: '../x', inputs: ['a.csv'], dateColumn: 'at' }),
    ).rejects.toThrow(UsageError);
    await expect(
      importDataset({
        dataDir: root,
        dataset: 'x',
        inputs: [path.join(root, 'missing.csv')],
        dateColumn: 'at',
      }),
    ).rejects.toThrow(`${path.join(root, 'missing.csv')}: no such file or folder`);
    const file = path.join(root, 'e.csv');
    await writeFile(file, eventsCsv());
    await expect(
      importDataset({ dataDir: root, dataset: 'x', inputs: [file], dateColumn: 'when' }),
    ).rejects.toThrow("--date-column 'when': no such column; found event_id BIGINT, at TIMESTAMP");
    await expect(
      importDataset({
        dataDir: root,
        dataset: 'x',
        inputs: [file],
        dateColumn: 'at',
        timezone: 'Mars/Olympus',
      }),
    ).rejects.toThrow("--timezone 'Mars/Olympus': expected an IANA time zone");
    await expect(
      importDataset({ dataDir: root, dataset: 'x', inputs: [file], dateColumn: 'at', idColumn: 'nope' }),
    ).rejects.toThrow("--id-column 'nope': no such column; found event_id, at, amount, shop");
  });
});

import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listPartitions, prepareFlights } from '../../src/data/index.ts';
import { query } from '../data/helpers.ts';
import { runCli } from '../helpers/child.ts';
import { seedEmbeddedHome, tempDir } from '../helpers/stores.ts';

/**
 * `nightshift score --input` on what users have: a plain Parquet file (no manifest) named by a
 * glob, with --date, gives every id the score it gets when read as a partition.
 */
describe('score plain Parquet files through the nightshift command', () => {
  it('scores a glob of plain files like the partition they were copied from', async () => {
    const root = tempDir();
    const home = path.join(root, 'home');
    const dataDir = path.join(root, 'data');
    await seedEmbeddedHome(home);
    await prepareFlights({ dataDir, from: '2001-01-08', to: '2001-01-11' });
    const env = { DATABASE_URL: '', NIGHTSHIFT_HOME: home, NIGHTSHIFT_DATA: dataDir };
    const train = await runCli(
      ['train', 'flights-delay', '--from', '2001-01-08', '--to', '2001-01-10', '--epochs', '1'],
      env,
    );
    expect(train.code, train.stderr).toBe(0);

    const [day] = await listPartitions(path.join(dataDir, 'flights'), { from: '2001-01-11' });
    const plain = path.join(root, 'exports');
    await mkdir(plain);
    await copyFile(day?.files[0] as string, path.join(plain, 'flights-0111.parquet'));
    const score = (input: string, output: string) =>
      runCli(
        [
          'score',
          'flights-delay',
          '--model',
          'flights-delay@latest',
          '--input',
          input,
          '--date',
          '2001-01-11',
          '--output',
          output,
          '--workers',
          '1',
        ],
        env,
      );
    const [fromGlob, fromPartition] = [path.join(root, 'out-glob'), path.join(root, 'out-partition')];
    const globbed = await score(path.join(plain, '*.parquet'), fromGlob);
    expect(globbed.stderr).not.toMatch(/^error/m);
    expect(globbed.code).toBe(0);
    expect((await score(day?.dir as string, fromPartition)).code).toBe(0);
    const [[rows, same]] = (await query(
      `WITH a AS (SELECT * FROM read_parquet('${fromGlob}/shard-*.parquet')),
            b AS (SELECT * FROM read_parquet('${fromPartition}/shard-*.parquet'))
       SELECT (SELECT count(*) FROM a)::INTEGER, (SELECT count(*) FROM a JOIN b USING (id) WHERE a.score = b.score)::INTEGER`,
    )) as [[number, number]];
    expect(rows).toBe(day?.manifest.rowCount);
    expect(same).toBe(rows);

    const noDate = await runCli(
      [
        'score',
        'flights-delay',
        '--model',
        'flights-delay@latest',
        '--input',
        path.join(plain, '*.parquet'),
        '--output',
        path.join(root, 'x'),
      ],
      env,
    );
    expect(noDate.code).toBe(2);
    expect(noDate.stderr).toContain('not in a date=YYYY-MM-DD folder; pass --date D');
  }, 240_000);
});

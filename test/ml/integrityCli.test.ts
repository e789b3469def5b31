import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/data/hash.ts';
import { MANIFEST_FILE, prepareFlights } from '../../src/data/index.ts';
import { runCli } from '../helpers/child.ts';
import { flipBit } from '../helpers/damage.ts';
import { seedEmbeddedHome, tempDir } from '../helpers/stores.ts';

/**
 * Issue 13's hostile cases as a user meets them: `train` and `score` over a partition with one
 * flipped bit, a manifest naming another day's file through `../`, a window with a day whose
 * manifest is gone. Each fails with a non-zero exit naming what is wrong, registers no version
 * and writes no predictions; `--allow-gaps` trains and records the gap in the lineage.
 */

const FIRST_VERSION = 'flights-delay@1 registered as candidate';

describe('train and score refuse damaged or incomplete data', () => {
  const root = tempDir();
  const home = path.join(root, 'home');
  const clean = path.join(root, 'clean');
  const env = (dataDir: string) => ({ DATABASE_URL: '', NIGHTSHIFT_HOME: home, NIGHTSHIFT_DATA: dataDir });
  /** A copy of the prepared data that a case may damage. */
  const copyOf = async (name: string) => {
    const dataDir = path.join(root, name);
    await cp(clean, dataDir, { recursive: true });
    return dataDir;
  };
  const latestVersion = async () => {
    const show = await runCli(['models', 'show', 'flights-delay@latest', '--json'], env(clean));
    expect(show.code, show.stderr).toBe(0);
    return JSON.parse(show.stdout) as { version: number; lineage: { window?: unknown } };
  };

  beforeAll(async () => {
    await seedEmbeddedHome(home);
    await prepareFlights({ dataDir: clean, from: '2001-01-08', to: '2001-01-11' });
    const train = await runCli(
      ['train', 'flights-delay', '--from', '2001-01-08', '--to', '2001-01-09', '--epochs', '1'],
      env(clean),
    );
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toContain(FIRST_VERSION);
  }, 120_000);

  it('fails on one flipped bit, naming the file and both sums; nothing registered, nothing scored', async () => {
    const dataDir = await copyOf('flipped');
    const file = path.join(dataDir, 'flights', 'date=2001-01-09', 'part-0.parquet');
    const manifest = JSON.parse(await readFile(path.join(path.dirname(file), MANIFEST_FILE), 'utf8'));
    const recorded = manifest.files[0].sha256 as string;
    const size = (await stat(file)).size;
    // The magic bytes, a data page, the footer's metadata: each for train and for score.
    const cases = [1, 5000, size - 30].flatMap((offset) =>
      (['train', 'score'] as const).map((command) => [command, offset] as const),
    );
    for (const [command, offset] of cases) {
      await flipBit(file, offset, 0x04);
      const found = await sha256File(file);
      const output = path.join(root, `predictions-${command}-${offset}`);
      const args =
        command === 'train'
          ? ['train', 'flights-delay', '--from', '2001-01-08', '--to', '2001-01-09', '--epochs', '1']
          : [
              'score',
              'flights-delay',
              '--model',
              'flights-delay@1',
              '--input',
              path.join(dataDir, 'flights'),
              '--from',
              '2001-01-08',
              '--to',
              '2001-01-09',
              '--date',
              '2001-01-09',
              '--output',
              output,
            ];
      const run = await runCli(args, env(dataDir));
      expect(run.code, `${command} at offset ${offset}: ${run.stdout}`).toBe(1);
      expect(run.stderr).toContain(`${file}: expected sha256 ${recorded}`);
      expect(run.stderr).toContain(`found ${found}`);
      expect(await stat(output).catch(() => undefined)).toBeUndefined();
      await flipBit(file, offset, 0x04);
    }
    expect((await latestVersion()).version).toBe(1);
  }, 240_000);

  it("refuses a manifest naming another day's file through ../", async () => {
    const dataDir = await copyOf('crafted');
    const dataset = path.join(dataDir, 'flights');
    const day9 = JSON.parse(await readFile(path.join(dataset, 'date=2001-01-09', MANIFEST_FILE), 'utf8'));
    const manifestFile = path.join(dataset, 'date=2001-01-10', MANIFEST_FILE);
    const crafted = JSON.parse(await readFile(manifestFile, 'utf8'));
    crafted.files = [{ ...day9.files[0], name: '../date=2001-01-09/part-0.parquet' }];
    crafted.rowCount = day9.rowCount;
    await writeFile(manifestFile, JSON.stringify(crafted));
    const output = path.join(root, 'predictions-crafted');
    const run = await runCli(
      [
        'score',
        'flights-delay',
        '--model',
        'flights-delay@1',
        '--input',
        path.join(dataset, 'date=2001-01-10'),
        '--output',
        output,
      ],
      env(dataDir),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${manifestFile}: lists "../date=2001-01-09/part-0.parquet"`);
    expect(await stat(output).catch(() => undefined)).toBeUndefined();
  }, 60_000);

  it('fails on a window with a day whose manifest is gone, and trains with --allow-gaps recording it', async () => {
    const dataDir = await copyOf('gap');
    await rm(path.join(dataDir, 'flights', 'date=2001-01-09', MANIFEST_FILE));
    const args = ['train', 'flights-delay', '--from', '2001-01-08', '--to', '2001-01-10', '--epochs', '1'];
    const refused = await runCli(args, env(dataDir));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/missing 1 of 3: 2001-01-09 \(its folder has no _manifest\.json\)/);
    expect((await latestVersion()).version).toBe(1);

    const allowed = await runCli([...args, '--allow-gaps'], env(dataDir));
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('--allow-gaps: training without 2001-01-09');
    const version = await latestVersion();
    expect(version.version).toBe(2);
    expect(version.lineage.window).toEqual({ from: '2001-01-08', to: '2001-01-10', missing: ['2001-01-09'] });
  }, 120_000);
});

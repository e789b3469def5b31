import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dayRanges } from '../../src/data/index.ts';
import { runCli } from '../helpers/child.ts';
import { seedEmbeddedHome, tempDir } from '../helpers/stores.ts';
import { writeRegressionDays } from '../tasks/regressionData.ts';

// The fixture pipeline lives in test/fixtures/pipelines: the command finds `pipelines/` in its
// working directory, as a user's project would have it.
const cwd = path.resolve('test/fixtures');

describe('train and models show for a regression, through the nightshift command', () => {
  it('prints MAE, RMSE and R² (no AUC), a true holdout line, and a summarised lineage', async () => {
    const root = tempDir();
    const home = path.join(root, 'home');
    const dataDir = path.join(root, 'data');
    await seedEmbeddedHome(home);
    await writeRegressionDays(dataDir, { from: '2024-01-01', days: 10, rowsPerDay: 100 });
    const env = { DATABASE_URL: '', NIGHTSHIFT_HOME: home, NIGHTSHIFT_DATA: dataDir };
    const train = (from: string, to: string, ...extra: string[]) =>
      runCli(['train', 'synthetic-regression', '--from', from, '--to', to, '--epochs', '5', ...extra], env, {
        cwd,
      });

    const first = await train('2024-01-01', '2024-01-06');
    expect(first.stderr).not.toMatch(/^error/m);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^synthetic-regression@1 registered as candidate: validation MAE \d+\.\d{4}, RMSE \d+\.\d{4}, R² -?\d\.\d{4} on 120 rows \(6 days/m,
    );
    // The pipeline's holdout { minRows: 150 }: two days of 100 rows after --to.
    expect(first.stdout).toMatch(
      /^holdout 2024-01-07\.\.2024-01-08 \(2 days, 200 rows\): model MAE [\d.]+, RMSE [\d.]+, R² -?[\d.]+; baseline \(mean label per \(shop, hour_of_day\) on 2024-01-01\.\.2024-01-06\) MAE [\d.]+, RMSE [\d.]+, R² -?[\d.]+; model (ahead|behind) by [\d.]+ MAE$/m,
    );
    expect(first.stdout).not.toMatch(/AUC|NaN/);

    // A window ending on the last day has no holdout, and says so truly, naming the dataset.
    const last = await train('2024-01-05', '2024-01-10', '--loss', 'mae', '--target-transform', 'none');
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toMatch(/^no holdout \{ minRows: 150 \}: no synthetic partition for 2024-01-11$/m);
    expect(last.stdout).not.toMatch(/AUC|NaN|flights/);

    const bad = await train('2024-01-01', '2024-01-06', '--loss', 'l2');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --loss 'l2': expected one of mse, huber, mae/);

    const show = await runCli(['models', 'show', 'synthetic-regression@1'], env, { cwd });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(
      /^lineage: dataset synthetic, 6 days in 1 range \(2024-01-01\.\.2024-01-06\), 6 files, 600 rows$/m,
    );
    expect(show.stdout).toMatch(/"loss":"huber".*"targetTransform":"log1p"/);
    expect(show.stdout).not.toMatch(/sha256|AUC|NaN/);
    const json = JSON.parse(
      (await runCli(['models', 'show', 'synthetic-regression@2', '--json'], env, { cwd })).stdout,
    );
    expect(json.lineage.partitions.map((p: { date: string }) => p.date)).toEqual([
      '2024-01-05',
      '2024-01-06',
      '2024-01-07',
      '2024-01-08',
      '2024-01-09',
      '2024-01-10',
    ]);
    expect(json.lineage.partitions[0].files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(json.lineage.settings).toMatchObject({ loss: 'mae' });
    expect(json.lineage.settings.targetTransform).toBeUndefined();
  }, 180_000);

  it('summarises days as ranges', () => {
    expect(
      dayRanges(['2024-01-03', '2024-01-01', '2024-01-02', '2024-01-05', '2024-02-01', '2024-02-02']),
    ).toEqual(['2024-01-01..2024-01-03', '2024-01-05', '2024-02-01..2024-02-02']);
    expect(dayRanges([])).toEqual([]);
  });
});

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withDuckSession } from '../../src/data/duckdb.ts';
import { prepareFlights } from '../../src/data/index.ts';
import type { HoldoutMetrics } from '../../src/ml/trainPipeline.ts';
import { runCli } from '../helpers/child.ts';
import { seedEmbeddedHome, tempDir } from '../helpers/stores.ts';

/**
 * Issue 4's check, as a user runs it: `nightshift train` registers a version with its holdout
 * and baseline AUC, then `nightshift score` with 1 and 2 workers gives the same score for every
 * id, each id once. A tiny window (3 days, 1 epoch) keeps it near 30 s.
 */
describe('train then score through the nightshift command', () => {
  it('registers a version with holdout metrics; 1 and 2 workers score every id once, identically', async () => {
    const root = tempDir();
    const home = path.join(root, 'home');
    const dataDir = path.join(root, 'data');
    await seedEmbeddedHome(home);
    await prepareFlights({ dataDir, from: '2001-01-08', to: '2001-01-12' });
    const env = { DATABASE_URL: '', NIGHTSHIFT_HOME: home, NIGHTSHIFT_DATA: dataDir };

    const train = await runCli(
      [
        'train',
        'flights-delay',
        '--from',
        '2001-01-08',
        '--to',
        '2001-01-10',
        '--epochs',
        '1',
        '--holdout-days',
        '2',
      ],
      env,
    );
    expect(train.stderr).not.toMatch(/^error/m);
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/flights-delay@1 registered as candidate/);
    expect(train.stdout).toMatch(/validation AUC 0\.\d+, log loss 0\.\d+ on [\d,]+ rows/);
    expect(train.stdout).toMatch(
      /holdout 2001-01-11\.\.2001-01-12 \(2 days, [\d,]+ rows\): model AUC 0\.\d+, log loss 0\.\d+; baseline \(mean label per \(origin, departure_hour\) on 2001-01-08\.\.2001-01-10\) AUC 0\.\d+, log loss 0\.\d+; model (ahead|behind) by 0\.\d+ AUC/,
    );

    const show = await runCli(['models', 'show', 'flights-delay@latest', '--json'], env);
    const metrics = (JSON.parse(show.stdout) as { metrics: { holdout: HoldoutMetrics } }).metrics;
    expect(metrics.holdout).toMatchObject({ from: '2001-01-11', to: '2001-01-12', days: 2, skipped: {} });
    expect(metrics.holdout.metrics.auc).toBeGreaterThan(0.5);
    expect(metrics.holdout.baseline?.metrics.auc).toBeGreaterThan(0.5);

    const outputs = [1, 2].map((workers) => path.join(root, `predictions-${workers}`));
    const score = (workers: number, output: string) =>
      runCli(
        [
          'score',
          'flights-delay',
          '--model',
          'flights-delay@latest',
          '--input',
          dataDir.concat('/flights'),
          '--date',
          '2001-01-11',
          '--output',
          output,
          '--workers',
          String(workers),
        ],
        env,
      );
    const scored = await Promise.all(
      [1, 2].map((workers, index) => score(workers, outputs[index] as string)),
    );
    for (const run of scored) {
      expect(run.stderr).not.toMatch(/^error/m);
      expect(run.code).toBe(0);
    }
    const [one, two] = outputs as [string, string];
    const [counts] = await withDuckSession(async (connection) =>
      (
        await connection.runAndReadAll(
          `WITH a AS (SELECT * FROM read_parquet('${one}/shard-*.parquet')),
                b AS (SELECT * FROM read_parquet('${two}/shard-*.parquet')),
                day AS (SELECT flight_id AS id FROM read_parquet('${dataDir}/flights/date=2001-01-11/*.parquet'))
           SELECT (SELECT count(*) FROM a)::INTEGER, (SELECT count(DISTINCT id) FROM a)::INTEGER,
                  (SELECT count(*) FROM b)::INTEGER, (SELECT count(DISTINCT id) FROM b)::INTEGER,
                  (SELECT count(*) FROM day)::INTEGER,
                  (SELECT count(*) FROM a JOIN b USING (id) WHERE a.score = b.score)::INTEGER,
                  (SELECT count(*) FROM day ANTI JOIN a USING (id))::INTEGER`,
        )
      ).getRows(),
    );
    const [rowsA, idsA, rowsB, idsB, dayRows, equal, missing] = counts as number[];
    expect(dayRows).toBeGreaterThan(10_000);
    expect([rowsA, idsA, rowsB, idsB, equal, missing]).toEqual([
      dayRows,
      dayRows,
      dayRows,
      dayRows,
      dayRows,
      0,
    ]);
    // One day, cut by row groups: --workers 2 scored it as two shards, one on each worker.
    const manifests = await Promise.all(
      outputs.map(async (output) => JSON.parse(await readFile(path.join(output, '_manifest.json'), 'utf8'))),
    );
    const workersOf = (manifest: { shards: { worker: number }[] }) =>
      manifest.shards.map((shard) => shard.worker).sort();
    expect(workersOf(manifests[0])).toEqual([0]);
    expect(workersOf(manifests[1])).toEqual([0, 1]);

    // A rerun has nothing left to score: it exits cleanly, its shards unchanged.
    const rerun = await score(2, outputs[1] as string);
    expect(rerun.code, rerun.stderr).toBe(0);
    const again = JSON.parse(await readFile(path.join(outputs[1] as string, '_manifest.json'), 'utf8'));
    expect(again.shards).toEqual(manifests[1].shards);
  }, 90_000);
});

// The second shipped pipeline end to end, as CI runs it: vega-datasets' weather.csv imported
// into daily partitions, a candidate trained from the CLI's code path, then three nights of
// dags/weather-nightly.ts (a regression: the day's high temperature) on both stores.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type NightshiftConfig } from '../../src/config.ts';
import { listTaskInstances, loadDagFile, runDag, runForDay } from '../../src/dag/index.ts';
import type { Dag } from '../../src/dag/types.ts';
import { importDataset } from '../../src/data/index.ts';
import { aliasHistory, getAliases } from '../../src/registry/aliases.ts';
import { listModelVersions } from '../../src/registry/versions.ts';
import { repoRoot } from '../helpers/child.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment, tempDir } from '../helpers/stores.ts';

const weatherCsv = path.join(repoRoot, 'node_modules', 'vega-datasets', 'data', 'weather.csv');
const NIGHTS = ['2014-06-01', '2014-06-02', '2014-06-03'];

describe.each(storeKinds())('weather-nightly on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  let config: NightshiftConfig;
  let dag: Dag;
  beforeAll(async () => {
    if (skip) return;
    env = await openTestEnvironment(kind);
    config = loadConfig({
      home: env.config.home,
      dataDir: tempDir('nightshift-weather-'),
      databaseUrl: env.config.databaseUrl,
    });
    const imported = await importDataset({
      dataDir: config.dataDir,
      dataset: 'weather',
      inputs: [weatherCsv],
      dateColumn: 'date',
      idColumn: 'location',
    });
    expect(imported.days.length).toBe(1461);
    dag = await loadDagFile(path.join(repoRoot, 'dags', 'weather-nightly.ts'));
  }, 180_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  it.skipIf(skip)(
    'imports, trains and runs three nights that promote or keep on regression metrics',
    { timeout: 600_000 },
    async () => {
      for (const [index, night] of NIGHTS.entries()) {
        const result = await runDag({
          store: env.store,
          config,
          dag,
          logicalDate: runForDay(dag, night).start,
          maxPollMs: 100,
        });
        const tasks = Object.fromEntries(
          (await listTaskInstances(env.store, result.run.id)).map((ti) => [ti.taskId, ti]),
        );
        expect(
          result.run.state,
          JSON.stringify(Object.values(tasks).map((ti) => [ti.taskId, ti.state, ti.error])),
        ).toBe('success');
        const trained = tasks.train?.outputs as {
          version: number;
          holdout: { metrics: Record<string, number>; baseline: { metrics: Record<string, number> } };
        };
        // The candidate beats the climatology baseline on the 28-day holdout, and no AUC is reported.
        expect(trained.holdout.metrics.mae).toBeLessThan(trained.holdout.baseline.metrics.mae as number);
        expect(Object.keys(trained.holdout.metrics).sort()).toEqual(['mae', 'r2', 'rmse']);
        const validated = tasks.validate?.outputs as {
          passed: boolean;
          holdout: string;
          candidateMetrics: Record<string, number>;
          rows: number;
        };
        expect(validated.rows).toBe(56);
        expect(validated.holdout).toBe(`${dayBefore(night, 28)}..${dayBefore(night, 1)}`);
        expect(Object.keys(validated.candidateMetrics).sort()).toEqual(['mae', 'r2', 'rmse']);
        // Exactly one of promote and keep ran, as the blessing decided.
        expect(tasks.promote?.state).toBe(validated.passed ? 'success' : 'skipped');
        expect(tasks.keep?.state).toBe(validated.passed ? 'skipped' : 'success');
        if (index > 0) {
          // From the second night, the champion scores day D: two stations, two predictions.
          expect(tasks.score?.outputs).toMatchObject({ rows: 2 });
          expect(tasks.monitor?.state).not.toBe('failed');
        }
      }
      const aliases = await getAliases(env.store, 'weather-temperature');
      expect(aliases.champion).toBeDefined();
      const versions = await listModelVersions(env.store, 'weather-temperature');
      expect(versions).toHaveLength(NIGHTS.length);
      const moves = await aliasHistory(env.store, 'weather-temperature');
      expect(
        moves
          .filter((move) => move.alias === 'champion')
          .every((move) => !move.forced && move.blessingId !== null),
      ).toBe(true);
    },
  );
});

function dayBefore(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
}

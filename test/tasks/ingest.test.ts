import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type NightshiftConfig } from '../../src/config.ts';
import { defineDag, listTaskInstances, runDag, runForDay } from '../../src/dag/index.ts';
import type { TaskContext } from '../../src/dag/types.ts';
import { sqlString } from '../../src/data/duckdb.ts';
import { withDuckSession, writePartition } from '../../src/data/index.ts';
import { NightshiftError } from '../../src/errors.ts';
import { nightlyTasks } from '../../src/tasks/index.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment, tempDir } from '../helpers/stores.ts';
import { writeSensorPipeline } from './sensorPipeline.ts';

async function writeSensorDay(dataDir: string, date: string): Promise<void> {
  await withDuckSession((connection) =>
    writePartition(connection, {
      datasetDir: path.join(dataDir, 'sensors'),
      dataset: 'sensors',
      date,
      inputs: { test: date },
      async writeFiles(tempDir) {
        await connection.run(
          `COPY (SELECT 's' || i AS sensor, i::DOUBLE AS reading, 2 * i::DOUBLE AS load FROM range(10) t(i))
           TO ${sqlString(path.join(tempDir, 'part-0.parquet'))} (FORMAT parquet)`,
        );
      },
    }),
  );
}

describe.each(storeKinds())(
  'the default ingest of an imported dataset on the $kind store',
  ({ kind, skip }) => {
    let env: TestEnvironment;
    let config: NightshiftConfig;
    const pipelinesDir = tempDir('nightshift-pipelines-');
    writeSensorPipeline(pipelinesDir);
    const tasks = nightlyTasks({
      pipeline: 'sensor-load',
      pipelinesDir,
      blessingRules: [{ kind: 'finiteScores' }],
      rollback: { metric: 'rmse', maxDrop: 1 },
    });
    const ingest = tasks.find((task) => task.id === 'ingest');
    if (!ingest) throw new Error('nightlyTasks has no ingest task');
    const dag = defineDag({
      id: 'sensor-ingest',
      description: 'the default ingest alone',
      tasks: [{ ...ingest, retries: 0 }],
    });

    beforeAll(async () => {
      if (skip) return;
      env = await openTestEnvironment(kind);
      config = loadConfig({
        home: env.config.home,
        dataDir: tempDir('nightshift-sensors-'),
        databaseUrl: env.config.databaseUrl,
      });
    });
    afterAll(async () => {
      await env?.cleanup();
    });

    it.skipIf(skip)(
      'fails with a retriable error naming the missing days, then succeeds once they arrive',
      async () => {
        // The night of 2001-01-10 reads the 3-day window, the holdout day and the day itself.
        for (const day of ['2001-01-06', '2001-01-09']) await writeSensorDay(config.dataDir, day);
        // A folder without its manifest is incomplete: it counts as missing.
        fs.mkdirSync(path.join(config.dataDir, 'sensors', 'date=2001-01-07'), { recursive: true });
        const first = await runDag({
          store: env.store,
          config,
          dag,
          logicalDate: runForDay(dag, '2001-01-10').start,
          maxPollMs: 50,
        });
        expect(first.run.state).toBe('failed');
        const [failed] = await listTaskInstances(env.store, first.run.id);
        expect(failed?.error).toContain("dataset 'sensors'");
        expect(failed?.error).toContain('2001-01-07..2001-01-08, 2001-01-10');
        expect(failed?.error).not.toContain('2001-01-06,');

        // The same error is retriable: the task's retries wait for late data.
        const context = { ds: '2001-01-10', config } as unknown as TaskContext;
        const error = await Promise.resolve()
          .then(() => ingest.run(context))
          .then(
            () => undefined,
            (caught: unknown) => caught,
          );
        expect(error).toBeInstanceOf(NightshiftError);
        expect((error as NightshiftError).retriable).toBe(true);

        for (const day of ['2001-01-07', '2001-01-08', '2001-01-10'])
          await writeSensorDay(config.dataDir, day);
        const second = await runDag({
          store: env.store,
          config,
          dag,
          logicalDate: runForDay(dag, '2001-01-11').start,
          maxPollMs: 50,
        });
        expect(second.run.state).toBe('failed');
        const [stillMissing] = await listTaskInstances(env.store, second.run.id);
        expect(stillMissing?.error).toContain('missing or incomplete (no _manifest.json): 2001-01-11.');

        const third = await runDag({
          store: env.store,
          config,
          dag,
          logicalDate: runForDay(dag, '2001-01-10').start,
          maxPollMs: 50,
        });
        expect(third.run.state).toBe('success');
        const [done] = await listTaskInstances(env.store, third.run.id);
        expect(done?.outputs).toMatchObject({ dataset: 'sensors', date: '2001-01-10', rows: 10, days: 5 });
      },
    );
  },
);

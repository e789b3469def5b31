import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDag, formatLogicalDate, listRuns, listTaskAttempts } from '../../src/dag/index.ts';
import { claimTaskInstances } from '../../src/dag/sql/claimTaskInstances.ts';
import type { Dag } from '../../src/dag/types.ts';
import { startQueuedRuns } from '../../src/executor/index.ts';
import { runScheduler, scheduleDueRuns } from '../../src/scheduler/index.ts';
import { triggerRun } from '../../src/scheduler/trigger.ts';
import type { Store } from '../../src/store/index.ts';
import { repoRoot, runCli } from '../helpers/child.ts';
import { describeWithPostgres } from '../helpers/services.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment, tempDagsDir } from '../helpers/stores.ts';

const at = (iso: string) => new Date(iso);

function dailyDag(id: string, extra: Partial<Parameters<typeof defineDag>[0]> = {}): Dag {
  return defineDag({
    id,
    description: '',
    schedule: '0 2 * * *',
    timezone: 'UTC',
    startDate: '2001-01-01',
    catchup: true,
    maxActiveRuns: 100,
    tasks: [{ id: 'only', run: () => 'ok' }],
    ...extra,
  });
}

async function runDates(store: Store, dagId: string): Promise<string[]> {
  const runs = await listRuns(store, { dagId, limit: 10_000 });
  return runs.map((run) => formatLogicalDate(run.logicalDate, 'UTC')).sort();
}

describe.each(storeKinds())('scheduler on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it.skipIf(skip)('creates each due interval once, in order, as scheduled runs', async () => {
    const dag = dailyDag('catchup');
    const created = await scheduleDueRuns(env.store, dag, at('2001-01-04T02:00:00Z'));
    expect(created.map((run) => run.logicalDate)).toEqual(['2001-01-01', '2001-01-02', '2001-01-03']);
    expect(await scheduleDueRuns(env.store, dag, at('2001-01-04T02:00:00Z'))).toEqual([]);
    const runs = await listRuns(env.store, { dagId: 'catchup' });
    expect(runs.every((run) => run.runType === 'scheduled' && run.state === 'queued')).toBe(true);
    expect(
      runs.find((run) => formatLogicalDate(run.logicalDate, 'UTC') === '2001-01-03')?.dataIntervalEnd,
    ).toEqual(at('2001-01-04T02:00:00Z'));
  });

  it.skipIf(skip)('a restart misses no interval and duplicates none', async () => {
    const dag = dailyDag('restart');
    await scheduleDueRuns(env.store, dag, at('2001-01-03T02:30:00Z'));
    // "Stopped" for four days, then started again.
    await scheduleDueRuns(env.store, dag, at('2001-01-07T02:30:00Z'));
    await scheduleDueRuns(env.store, dag, at('2001-01-07T02:30:00Z'));
    expect(await runDates(env.store, 'restart')).toEqual([
      '2001-01-01',
      '2001-01-02',
      '2001-01-03',
      '2001-01-04',
      '2001-01-05',
      '2001-01-06',
    ]);
  });

  it.skipIf(skip)('keeps active runs within maxActiveRuns, counting queued runs of any type', async () => {
    const dag = dailyDag('capped', { maxActiveRuns: 2 });
    await triggerRun(env.store, dag, { date: '2001-01-01' });
    const created = await scheduleDueRuns(env.store, dag, at('2001-01-10T03:00:00Z'));
    // The manual run for 01-01 takes one slot and its date is not scheduled again.
    expect(created.map((run) => run.logicalDate)).toEqual(['2001-01-02']);
    expect(await scheduleDueRuns(env.store, dag, at('2001-01-10T03:00:00Z'))).toEqual([]);
  });

  it.skipIf(skip)('without catch-up creates only the latest interval', async () => {
    const dag = dailyDag('latest', { catchup: false });
    const created = await scheduleDueRuns(env.store, dag, at('2001-03-10T12:00:00Z'));
    expect(created.map((run) => run.logicalDate)).toEqual(['2001-03-09']);
    expect(await scheduleDueRuns(env.store, dag, at('2001-03-10T23:00:00Z'))).toEqual([]);
  });

  it.skipIf(skip)(
    'with --once executes the queued runs and catches up within maxActiveRuns as runs finish',
    async () => {
      const seen: string[] = [];
      const dag = defineDag({
        id: 'executed',
        description: '',
        schedule: '0 2 * * *',
        startDate: '2001-01-01',
        catchup: true,
        maxActiveRuns: 1,
        tasks: [
          {
            id: 'record',
            run: ({ ds }) => {
              seen.push(ds);
              return ds;
            },
          },
        ],
      });
      const report = await runScheduler({
        store: env.store,
        config: env.config,
        dags: [dag],
        clock: () => at('2001-01-05T02:00:00Z'),
        once: true,
      });
      expect(seen).toEqual(['2001-01-01', '2001-01-02', '2001-01-03', '2001-01-04']);
      expect(report.finished.map((run) => [run.logicalDate, run.state])).toEqual([
        ['2001-01-01', 'success'],
        ['2001-01-02', 'success'],
        ['2001-01-03', 'success'],
        ['2001-01-04', 'success'],
      ]);
      const runs = await listRuns(env.store, { dagId: 'executed' });
      expect(runs.map((run) => run.state)).toEqual(['success', 'success', 'success', 'success']);
    },
  );

  it.skipIf(skip)('executes a queued manual run and leaves it when told only to schedule', async () => {
    const dag = dailyDag('manual-exec', { schedule: undefined, startDate: undefined });
    const { run } = await triggerRun(env.store, dag, { date: '2001-05-05' });
    await runScheduler({ store: env.store, config: env.config, dags: [dag], once: true, execute: false });
    expect((await listRuns(env.store, { dagId: 'manual-exec' }))[0]?.state).toBe('queued');
    const report = await runScheduler({ store: env.store, config: env.config, dags: [dag], once: true });
    expect(report.finished).toEqual([
      { dagId: 'manual-exec', runId: run.id, logicalDate: '2001-05-05', state: 'success' },
    ]);
  });

  it.skipIf(skip)('takes over a run whose executor died, and leaves runs it is executing alone', async () => {
    const dag = dailyDag('orphan', { schedule: undefined, startDate: undefined, catchup: false });
    const { run } = await triggerRun(env.store, dag, { date: '2001-02-01' });
    // A process started the run, claimed its task on a short lease, and died.
    await startQueuedRuns(env.store, [dag]);
    const [claim] = await claimTaskInstances(env.store, {
      scope: { runId: run.id },
      owner: 'dead-process',
      limit: 1,
      leaseMs: 50,
    });
    expect(claim?.taskId).toBe('only');
    // Within the idle time nothing is taken over.
    const early = await runScheduler({
      store: env.store,
      config: env.config,
      dags: [dag],
      once: true,
      execute: true,
      orphanAfterMs: 60_000,
    });
    expect(early.finished).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const report = await runScheduler({
      store: env.store,
      config: env.config,
      dags: [dag],
      once: true,
      execute: true,
      orphanAfterMs: 100,
    });
    expect(report.finished).toEqual([
      { dagId: 'orphan', runId: run.id, logicalDate: '2001-02-01', state: 'success' },
    ]);
    expect((await listTaskAttempts(env.store, run.id)).map((attempt) => attempt.state)).toEqual([
      'lease_expired',
      'success',
    ]);
  });
});

describeWithPostgres('scheduler processes on Postgres', () => {
  let env: TestEnvironment;
  let dagsDir: string;
  beforeAll(async () => {
    env = await openTestEnvironment('postgres');
    dagsDir = tempDagsDir();
    const defineDagPath = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));
    fs.writeFileSync(
      path.join(dagsDir, 'hourly.ts'),
      `import { defineDag } from ${defineDagPath};
export default defineDag({ id: 'hourly', description: '', schedule: '0 * * * *', timezone: 'Europe/Paris',
  startDate: '2001-10-27', catchup: true, maxActiveRuns: 1000, tasks: [{ id: 'a', run: () => 1 }] });\n`,
    );
  });
  afterAll(async () => {
    await env?.cleanup();
    if (dagsDir) fs.rmSync(dagsDir, { recursive: true, force: true });
  });

  it('two schedulers at once create each run once; a restart later misses none', async () => {
    const childEnv = { ...env.env, NIGHTSHIFT_DAGS: dagsDir, NIGHTSHIFT_NOW: '2001-10-29T00:00:00Z' };
    const args = ['scheduler', '--once', '--no-execute'];
    const [first, second] = await Promise.all([runCli(args, childEnv), runCli(args, childEnv)]);
    expect([first.code, second.code], first.stderr + second.stderr).toEqual([0, 0]);
    // 2001-10-27 and 2001-10-28 (25 hours: the clocks went back) in Paris make 49 hourly
    // intervals, and the one to 2001-10-29T00:00Z (01:00 CET) is due too: 50.
    const count = async () =>
      (
        await env.store.query<{ runs: number; dates: number }>(
          `SELECT count(*)::int AS runs, count(DISTINCT logical_date)::int AS dates FROM dag_runs WHERE dag_id = 'hourly'`,
        )
      ).rows[0];
    expect(await count()).toEqual({ runs: 50, dates: 50 });
    const printed = `${first.stdout}${second.stdout}`.match(/^scheduled run/gm) ?? [];
    expect(printed).toHaveLength(50);

    const restarted = await runCli(args, { ...childEnv, NIGHTSHIFT_NOW: '2001-10-29T05:30:00Z' });
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(await count()).toEqual({ runs: 55, dates: 55 });
    const { rows } = await env.store.query<{ start: Date; end: Date }>(
      `SELECT data_interval_start AS start, data_interval_end AS "end" FROM dag_runs
       WHERE dag_id = 'hourly' ORDER BY logical_date`,
    );
    for (let index = 1; index < rows.length; index++) {
      expect(rows[index]?.start).toEqual(rows[index - 1]?.end);
    }
    expect(rows[0]?.start).toEqual(at('2001-10-26T22:00:00Z'));
    expect(rows.at(-1)?.end).toEqual(at('2001-10-29T05:00:00Z'));
  });
});

describe.each(storeKinds())(
  'scheduler --once with a DAG file that fails to load ($kind store)',
  ({ kind, skip }) => {
    let env: TestEnvironment;
    let dagsDir: string;
    beforeAll(async () => {
      if (skip) return;
      env = await openTestEnvironment(kind, { serve: true });
      dagsDir = tempDagsDir();
      const defineDagPath = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));
      fs.writeFileSync(
        path.join(dagsDir, 'fine.ts'),
        `import { defineDag } from ${defineDagPath};
export default defineDag({ id: 'fine', description: '', schedule: '0 2 * * *', timezone: 'UTC',
  startDate: '2001-01-01', catchup: true, maxActiveRuns: 100, tasks: [{ id: 'a', run: () => 1 }] });\n`,
      );
      fs.writeFileSync(path.join(dagsDir, 'broken.ts'), 'export default {{ not a DAG;\n');
    });
    afterAll(async () => {
      await env?.cleanup();
      if (dagsDir) fs.rmSync(dagsDir, { recursive: true, force: true });
    });

    it.skipIf(skip)('schedules the DAGs that loaded, names the broken file, and exits 1', async () => {
      const result = await runCli(['scheduler', '--once', '--no-execute'], {
        ...env.env,
        NIGHTSHIFT_DAGS: dagsDir,
        NIGHTSHIFT_NOW: '2001-01-04T00:00:00Z',
      });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^error: .*broken\.ts/m);
      expect(result.stderr).toMatch(/1 DAG file failed to load/);
      // Intervals that ended by 2001-01-04T00:00Z: [01-01 02:00, 01-02 02:00) and the next.
      expect(result.stdout.match(/^scheduled run \d+ of fine/gm)).toHaveLength(2);
      expect(await runDates(env.store, 'fine')).toEqual(['2001-01-01', '2001-01-02']);
    });
  },
);

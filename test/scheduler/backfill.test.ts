import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDag, listRuns, listTaskInstances, runDag } from '../../src/dag/index.ts';
import type { Dag } from '../../src/dag/types.ts';
import { backfillDates, runBackfill } from '../../src/scheduler/backfill.ts';
import { triggerRun } from '../../src/scheduler/trigger.ts';
import { runCli } from '../helpers/child.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

function countingDag(id: string, calls: string[], failOn: Set<string> = new Set()): Dag {
  return defineDag({
    id,
    description: '',
    schedule: '0 2 * * *',
    startDate: '2001-01-01',
    maxActiveRuns: 2,
    tasks: [
      { id: 'extract', run: ({ ds }) => void calls.push(`extract ${ds}`) },
      {
        id: 'load',
        deps: ['extract'],
        run: ({ ds }) => {
          calls.push(`load ${ds}`);
          if (failOn.has(ds)) throw new Error(`load failed for ${ds}`);
        },
      },
    ],
  });
}

describe('backfill dates', () => {
  it('lists the logical dates of the schedule on each calendar day of [from, to]', () => {
    const dag = countingDag('dates', []);
    expect(backfillDates(dag, '2001-02-01', '2001-02-05').map((i) => i.start.toISOString())).toEqual([
      '2001-02-01T02:00:00.000Z',
      '2001-02-02T02:00:00.000Z',
      '2001-02-03T02:00:00.000Z',
      '2001-02-04T02:00:00.000Z',
      '2001-02-05T02:00:00.000Z',
    ]);
    const weekly = defineDag({ ...dag, schedule: '0 0 * * 1', tasks: [{ id: 'a', run: () => 1 }] });
    expect(backfillDates(weekly, '2001-02-01', '2001-02-28')).toHaveLength(4);
    expect(() => backfillDates(dag, '2001-02-05', '2001-02-01')).toThrow(/before --from/);
    expect(() => backfillDates(dag, '2001-02-30', '2001-03-01')).toThrow(/invalid --from '2001-02-30'/);
  });

  it('prints five logical dates for flights-nightly with --dry-run --json, creating nothing', async () => {
    const { code, stdout, stderr } = await runCli(
      ['backfill', 'flights-nightly', '--from', '2001-02-01', '--to', '2001-02-05', '--dry-run', '--json'],
      { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    );
    expect(code, stderr).toBe(0);
    const dates = JSON.parse(stdout) as { logicalDate: string }[];
    expect(dates.map((date) => date.logicalDate)).toEqual([
      '2001-02-01',
      '2001-02-02',
      '2001-02-03',
      '2001-02-04',
      '2001-02-05',
    ]);
  });

  it('refuses a bad --reprocess with one line and exit 2', async () => {
    const result = await runCli([
      'backfill',
      'example',
      '--from',
      '2001-02-01',
      '--to',
      '2001-02-02',
      '--reprocess',
      'all',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      "error: invalid --reprocess 'all': expected one of none, failed, completed",
    );
  });
});

describe.each(storeKinds())('backfill and trigger on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });
  const backfill = (dag: Dag, reprocess: 'none' | 'failed' | 'completed', maxActive = 2) =>
    runBackfill({
      store: env.store,
      config: env.config,
      dag,
      from: '2001-03-01',
      to: '2001-03-04',
      reprocess,
      maxActive,
    });

  it.skipIf(skip)(
    'creates backfill runs in order and executes them; reprocess decides about existing runs',
    async () => {
      const calls: string[] = [];
      const failOn = new Set(['2001-03-02']);
      const dag = countingDag('refill', calls, failOn);
      // One date already ran, successfully, before the backfill.
      await runDag({
        store: env.store,
        config: env.config,
        dag,
        logicalDate: new Date('2001-03-03T02:00:00Z'),
      });
      calls.length = 0;

      const first = await backfill(dag, 'none', 1);
      expect(first.map((o) => [o.logicalDate, o.action, o.state])).toEqual([
        ['2001-03-01', 'created', 'success'],
        ['2001-03-02', 'created', 'failed'],
        ['2001-03-03', 'skipped', 'success'],
        ['2001-03-04', 'created', 'success'],
      ]);
      // maxActive 1: strictly in logical-date order.
      expect(calls).toEqual([
        'extract 2001-03-01',
        'load 2001-03-01',
        'extract 2001-03-02',
        'load 2001-03-02',
        'extract 2001-03-04',
        'load 2001-03-04',
      ]);
      const runs = await listRuns(env.store, { dagId: 'refill' });
      expect(runs.filter((run) => run.runType === 'backfill')).toHaveLength(3);

      calls.length = 0;
      failOn.clear();
      const failed = await backfill(dag, 'failed');
      expect(failed.map((o) => [o.logicalDate, o.action, o.state])).toEqual([
        ['2001-03-01', 'skipped', 'success'],
        ['2001-03-02', 'reprocessed', 'success'],
        ['2001-03-03', 'skipped', 'success'],
        ['2001-03-04', 'skipped', 'success'],
      ]);
      // Only the failed task ran again.
      expect(calls).toEqual(['load 2001-03-02']);

      calls.length = 0;
      const completed = await backfill(dag, 'completed', 4);
      expect(completed.every((o) => o.action === 'reprocessed' && o.state === 'success')).toBe(true);
      expect(calls.filter((call) => call.startsWith('extract')).sort()).toEqual([
        'extract 2001-03-01',
        'extract 2001-03-02',
        'extract 2001-03-03',
        'extract 2001-03-04',
      ]);
      expect((await listRuns(env.store, { dagId: 'refill' })).length).toBe(4);
    },
  );

  it.skipIf(skip)('trigger creates one queued manual run per date and executes nothing', async () => {
    const calls: string[] = [];
    const dag = countingDag('triggered', calls);
    const first = await triggerRun(env.store, dag, { date: '2001-04-01', conf: { note: 'hi' } });
    expect(first.created).toBe(true);
    expect(first.run).toMatchObject({ state: 'queued', runType: 'manual', conf: { note: 'hi' } });
    const again = await triggerRun(env.store, dag, { date: '2001-04-01' });
    expect(again).toMatchObject({ created: false, run: { id: first.run.id } });
    expect(calls).toEqual([]);
    expect((await listTaskInstances(env.store, first.run.id)).map((ti) => ti.state)).toEqual([
      'scheduled',
      'scheduled',
    ]);
    // Without a date: the latest complete interval of the schedule.
    const latest = await triggerRun(env.store, dag, { now: new Date('2001-04-10T01:00:00Z') });
    expect(latest.run.logicalDate).toEqual(new Date('2001-04-08T02:00:00Z'));
  });
});

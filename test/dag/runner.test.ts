import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearTaskInstances,
  defineDag,
  listTaskAttempts,
  listTaskInstances,
  parseLogicalDate,
  runDag,
} from '../../src/dag/index.ts';
import { claimTaskInstances } from '../../src/dag/sql/claimTaskInstances.ts';
import { completeTaskInstance } from '../../src/dag/sql/completeTaskInstance.ts';
import { createOrGetRun } from '../../src/dag/sql/createRun.ts';
import type { Dag, JsonValue, TaskContext } from '../../src/dag/types.ts';
import { DataError, LeaseLostError } from '../../src/errors.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const day = (ds: string) => parseLogicalDate(ds, 'UTC');

describe.each(storeKinds())('runDag on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });
  const run = (dag: Dag, ds: string, extra: Partial<Parameters<typeof runDag>[0]> = {}) =>
    runDag({ store: env.store, config: env.config, dag, logicalDate: day(ds), maxPollMs: 50, ...extra });

  it.skipIf(skip)(
    'runs tasks in dependency order and hands each its context and upstream outputs',
    async () => {
      const seen: Record<string, Partial<TaskContext>> = {};
      const record = (ctx: TaskContext, outputs: JsonValue): JsonValue => {
        seen[ctx.taskId] = {
          ds: ctx.ds,
          params: ctx.params,
          upstream: ctx.upstream,
          dataInterval: ctx.dataInterval,
          attempt: ctx.attempt,
        };
        return outputs;
      };
      const dag = defineDag({
        id: 'context',
        description: '',
        params: { threshold: 1, label: 'x' },
        tasks: [
          { id: 'extract', run: (ctx) => record(ctx, { rows: 3 }) },
          {
            id: 'double',
            deps: ['extract'],
            run: (ctx) => record(ctx, { rows: (ctx.upstream.extract as { rows: number }).rows * 2 }),
          },
          { id: 'report', deps: ['double', 'extract'], run: (ctx) => record(ctx, 'done') },
        ],
      });
      const result = await run(dag, '2001-01-15', { conf: { threshold: 5 } });
      expect(result.state).toBe('success');
      expect(result.executed).toEqual({ extract: 1, double: 1, report: 1 });
      expect(seen.report?.upstream).toEqual({ double: { rows: 6 }, extract: { rows: 3 } });
      expect(seen.extract?.upstream).toEqual({});
      expect(seen.double?.params).toEqual({ threshold: 5, label: 'x' });
      expect(seen.double?.ds).toBe('2001-01-15');
      expect(seen.double?.dataInterval).toEqual({ start: day('2001-01-15'), end: day('2001-01-16') });
      const instances = await listTaskInstances(env.store, result.run.id);
      expect(Object.fromEntries(instances.map((ti) => [ti.taskId, [ti.state, ti.outputs]]))).toEqual({
        extract: ['success', { rows: 3 }],
        double: ['success', { rows: 6 }],
        report: ['success', 'done'],
      });
      for (const instance of instances) {
        expect(instance.leaseToken).toBeGreaterThan(0);
        expect(instance.leaseOwner).toBeNull();
      }
    },
  );

  it.skipIf(skip)('retries a failing task with backoff, then succeeds', async () => {
    const attemptsSeen: number[] = [];
    const dag = defineDag({
      id: 'flaky',
      description: '',
      tasks: [
        {
          id: 'flaky',
          retries: 3,
          retryDelayMs: 40,
          run: ({ attempt }) => {
            attemptsSeen.push(attempt);
            if (attempt < 3) throw new Error(`transient failure ${attempt}`);
            return { attempt };
          },
        },
      ],
    });
    const started = Date.now();
    const result = await run(dag, '2001-01-15');
    expect(result.state).toBe('success');
    expect(attemptsSeen).toEqual([1, 2, 3]);
    // Delays 40 then 80 ms (exponential): at least 120 ms in all.
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    const attempts = await listTaskAttempts(env.store, result.run.id);
    expect(attempts.map((a) => [a.attempt, a.state, a.error])).toEqual([
      [1, 'failed', 'transient failure 1'],
      [2, 'failed', 'transient failure 2'],
      [3, 'success', null],
    ]);
  });

  it.skipIf(skip)(
    'fails a task after its retries and marks everything downstream upstream_failed',
    async () => {
      const ran: string[] = [];
      const dag = defineDag({
        id: 'failing',
        description: '',
        tasks: [
          { id: 'a', run: () => void ran.push('a') },
          {
            id: 'b',
            deps: ['a'],
            retries: 1,
            retryDelayMs: 10,
            run: () => {
              ran.push('b');
              throw new Error('boom');
            },
          },
          { id: 'c', deps: ['b'], run: () => void ran.push('c') },
          { id: 'd', deps: ['c'], run: () => void ran.push('d') },
          { id: 'side', deps: ['a'], run: () => void ran.push('side') },
          {
            id: 'cleanup',
            deps: ['d', 'side'],
            triggerRule: 'all_done',
            run: () => void ran.push('cleanup'),
          },
        ],
      });
      const result = await run(dag, '2001-01-15');
      expect(result.state).toBe('success'); // the only leaf, cleanup, ran: all_done
      const states = Object.fromEntries(
        (await listTaskInstances(env.store, result.run.id)).map((ti) => [ti.taskId, ti.state]),
      );
      expect(states).toEqual({
        a: 'success',
        b: 'failed',
        c: 'upstream_failed',
        d: 'upstream_failed',
        side: 'success',
        cleanup: 'success',
      });
      expect(ran.filter((task) => task === 'b')).toHaveLength(2);
      expect(ran).not.toContain('c');
      expect(ran).not.toContain('d');

      const strict = defineDag({
        ...dagDefinitionOf(dag),
        id: 'failing-strict',
        tasks: dagDefinitionOf(dag).tasks.filter((t) => t.id !== 'cleanup'),
      });
      const strictResult = await run(strict, '2001-01-15');
      expect(strictResult.state).toBe('failed');
    },
  );

  it.skipIf(skip)('does not retry an error that says it is not retriable', async () => {
    let calls = 0;
    const dag = defineDag({
      id: 'bad-data',
      description: '',
      tasks: [
        {
          id: 'read',
          retries: 5,
          retryDelayMs: 1,
          run: () => {
            calls++;
            throw new DataError('part-0.parquet: column delay is missing');
          },
        },
      ],
    });
    const result = await run(dag, '2001-01-15');
    expect(result.state).toBe('failed');
    expect(calls).toBe(1);
    const [instance] = await listTaskInstances(env.store, result.run.id);
    expect(instance?.error).toBe(
      'DataError: part-0.parquet: column delay is missing (not retried: DataError is not retriable)',
    );
  });

  it.skipIf(skip)('aborts a task at its timeout, signals it, and retries it', async () => {
    const aborted: boolean[] = [];
    const dag = defineDag({
      id: 'slow',
      description: '',
      tasks: [
        {
          id: 'slow',
          timeoutMs: 100,
          retries: 1,
          retryDelayMs: 10,
          run: ({ signal }) =>
            new Promise((resolve) => {
              const timer = setTimeout(() => resolve('too late'), 5_000);
              signal.addEventListener('abort', () => {
                aborted.push(true);
                clearTimeout(timer);
              });
            }),
        },
      ],
    });
    const started = Date.now();
    const result = await run(dag, '2001-01-15');
    expect(result.state).toBe('failed');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(aborted).toEqual([true, true]);
    const attempts = await listTaskAttempts(env.store, result.run.id);
    expect(attempts.map((a) => a.error)).toEqual([
      "TaskTimeoutError: task 'slow' timed out after 100 ms",
      "TaskTimeoutError: task 'slow' timed out after 100 ms",
    ]);
  });

  it.skipIf(skip)(
    'skips a task on request and skips its all_success downstream, while none_failed runs',
    async () => {
      const dag = defineDag({
        id: 'branch',
        description: '',
        tasks: [
          { id: 'decide', run: () => ({ promote: false }) },
          {
            id: 'promote',
            deps: ['decide'],
            run: ({ upstream, skip }) =>
              (upstream.decide as { promote: boolean }).promote || skip('candidate not blessed'),
          },
          { id: 'announce', deps: ['promote'], run: () => 'announced' },
          { id: 'keep', deps: ['decide'], run: () => 'kept' },
          { id: 'monitor', deps: ['promote', 'keep'], triggerRule: 'none_failed', run: () => 'monitored' },
        ],
      });
      const result = await run(dag, '2001-01-15');
      expect(result.state).toBe('success');
      const instances = await listTaskInstances(env.store, result.run.id);
      const byId = Object.fromEntries(instances.map((ti) => [ti.taskId, ti]));
      expect(byId.promote?.state).toBe('skipped');
      expect(byId.promote?.error).toBe('candidate not blessed');
      expect(byId.announce?.state).toBe('skipped');
      expect(byId.announce?.tryNumber).toBe(0);
      expect(byId.monitor?.state).toBe('success');
    },
  );

  it.skipIf(skip)('resumes a run: succeeded tasks are not run again unless cleared', async () => {
    const calls: Record<string, number> = {};
    let failNext = true;
    const count = (id: string) => {
      calls[id] = (calls[id] ?? 0) + 1;
    };
    const dag = defineDag({
      id: 'resume',
      description: '',
      tasks: [
        { id: 'a', run: () => count('a') },
        {
          id: 'b',
          deps: ['a'],
          run: () => {
            count('b');
            if (failNext) throw new Error('first time fails');
          },
        },
        { id: 'c', deps: ['b'], run: () => count('c') },
      ],
    });
    const first = await run(dag, '2001-01-20');
    expect(first.state).toBe('failed');
    failNext = false;
    const second = await run(dag, '2001-01-20');
    expect(second.created).toBe(false);
    expect(second.run.id).toBe(first.run.id);
    expect(second.state).toBe('success');
    expect(calls).toEqual({ a: 1, b: 2, c: 1 });

    const third = await run(dag, '2001-01-20');
    expect(third.executed).toEqual({});
    expect(calls).toEqual({ a: 1, b: 2, c: 1 });

    const { cleared } = await clearTaskInstances(env.store, first.run.id, {
      taskIds: ['b'],
      downstream: true,
    });
    expect(cleared).toEqual(['b', 'c']);
    const fourth = await run(dag, '2001-01-20');
    expect(fourth.state).toBe('success');
    expect(calls).toEqual({ a: 1, b: 3, c: 2 });
  });

  it.skipIf(skip)('refuses to resume a run with a different conf', async () => {
    const dag = defineDag({ id: 'conf', description: '', tasks: [{ id: 'a', run: () => 1 }] });
    await run(dag, '2001-01-15', { conf: { n: 1 } });
    await expect(run(dag, '2001-01-15', { conf: { n: 2 } })).rejects.toThrowError(
      /exists with conf \{"n":1\}, not \{"n":2\}/,
    );
    expect((await run(dag, '2001-01-15')).state).toBe('success');
  });

  it.skipIf(skip)('resumes a run given the same conf, whatever the order of its keys', async () => {
    const dag = defineDag({ id: 'conf-order', description: '', tasks: [{ id: 'a', run: () => 1 }] });
    // jsonb stores keys by length then bytes: {"a":…,"zz":…} comes back in another order than given.
    const conf = { zz: 1, a: { yy: [1, { c: 2, b: 1 }], x: null }, b: 'text' };
    expect((await run(dag, '2001-01-15', { conf })).state).toBe('success');
    expect((await run(dag, '2001-01-15', { conf })).created).toBe(false);
    const reordered = { b: 'text', a: { x: null, yy: [1, { b: 1, c: 2 }] }, zz: 1 };
    expect((await run(dag, '2001-01-15', { conf: reordered })).state).toBe('success');
    for (const other of [
      { ...conf, zz: 2 },
      { ...conf, extra: true },
      { zz: 1, a: { yy: [{ c: 2, b: 1 }, 1], x: null }, b: 'text' },
      { zz: 1, b: 'text' },
    ]) {
      await expect(run(dag, '2001-01-15', { conf: other }), JSON.stringify(other)).rejects.toThrowError(
        /exists with conf/,
      );
    }
  });

  it.skipIf(skip)('fails a task whose outputs are not small JSON', async () => {
    const dag = defineDag({
      id: 'outputs',
      description: '',
      tasks: [
        { id: 'huge', run: () => ({ blob: 'x'.repeat(70_000) }) },
        { id: 'nan', run: () => ({ auc: Number.NaN }) },
      ],
    });
    const result = await run(dag, '2001-01-15');
    expect(result.state).toBe('failed');
    const errors = Object.fromEntries(
      (await listTaskInstances(env.store, result.run.id)).map((ti) => [ti.taskId, ti.error]),
    );
    expect(errors.huge).toMatch(/returned 7\d{4} bytes of outputs; the limit is 65536/);
    expect(errors.nan).toMatch(/output 'auc' is NaN: expected a finite number/);
  });

  it.skipIf(skip)('keeps one run per DAG and logical date, also when created concurrently', async () => {
    const dag = defineDag({ id: 'unique', description: '', tasks: [{ id: 'a', run: () => 1 }] });
    const input = {
      dag,
      logicalDate: day('2001-02-01'),
      interval: { start: day('2001-02-01'), end: day('2001-02-02') },
      conf: {},
      runType: 'manual' as const,
    };
    const results = await Promise.all([1, 2, 3, 4].map(() => createOrGetRun(env.store, input)));
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    await expect(
      env.store.query(
        `INSERT INTO dag_runs (dag_id, logical_date, data_interval_start, data_interval_end) VALUES ($1, $2, $2, $2)`,
        ['unique', day('2001-02-01')],
      ),
    ).rejects.toThrowError(/dag_runs_one_per_logical_date/);
  });

  it.skipIf(skip)(
    'fences a holder whose lease expired and was taken over: its result is refused',
    async () => {
      const dag = defineDag({ id: 'fenced', description: '', tasks: [{ id: 'a', run: () => 1 }] });
      const { run: created } = await createOrGetRun(env.store, {
        dag,
        logicalDate: day('2001-03-01'),
        interval: { start: day('2001-03-01'), end: day('2001-03-02') },
        conf: {},
        runType: 'manual',
      });
      await env.store.query(`UPDATE task_instances SET state = 'queued' WHERE run_id = $1`, [created.id]);
      const [first] = await claimTaskInstances(env.store, {
        scope: { runId: created.id },
        owner: 'first',
        limit: 1,
        leaseMs: 100,
      });
      expect(first?.tryNumber).toBe(1);
      // While the lease is live nobody else can claim it.
      expect(
        await claimTaskInstances(env.store, {
          scope: { runId: created.id },
          owner: 'second',
          limit: 1,
          leaseMs: 60_000,
        }),
      ).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const [second] = await claimTaskInstances(env.store, {
        scope: { runId: created.id },
        owner: 'second',
        limit: 1,
        leaseMs: 60_000,
      });
      expect(second?.leaseOwner).toBe('second');
      expect(second?.leaseExpirations).toBe(1);
      expect(second?.leaseToken).toBeGreaterThan(first?.leaseToken ?? Number.POSITIVE_INFINITY);

      const lease = (claim: typeof first) => ({
        runId: created.id,
        taskId: 'a',
        leaseToken: claim?.leaseToken ?? -1,
      });
      await expect(
        completeTaskInstance(env.store, lease(first), { kind: 'success', outputs: 'stale' }),
      ).rejects.toBeInstanceOf(LeaseLostError);
      await completeTaskInstance(env.store, lease(second), { kind: 'success', outputs: 'fresh' });
      const [instance] = await listTaskInstances(env.store, created.id);
      expect(instance?.outputs).toBe('fresh');
      const attempts = await listTaskAttempts(env.store, created.id);
      expect(attempts.map((a) => [a.attempt, a.owner, a.state])).toEqual([
        [1, 'first', 'lease_expired'],
        [2, 'second', 'success'],
      ]);
    },
  );

  it.skipIf(skip)(
    'runs a task whose process keeps dying 3 times, as documented, then fails it naming why',
    async () => {
      const ran: number[] = [];
      const dag = defineDag({
        id: 'dying',
        description: '',
        defaultTaskOptions: { retries: 5 },
        tasks: [
          {
            id: 'a',
            run: ({ attempt }) => {
              ran.push(attempt);
              return 'ran';
            },
          },
        ],
      });
      // Each claim below is an attempt whose process died: it started, and never heartbeat.
      const dieOnce = async (runId: number) => {
        const [claim] = await claimTaskInstances(env.store, {
          scope: { runId },
          owner: 'dies',
          limit: 1,
          leaseMs: 20,
        });
        expect(claim?.taskId).toBe('a');
        await new Promise((resolve) => setTimeout(resolve, 40));
      };
      const prepare = async (date: string, deaths: number) => {
        const { run } = await createOrGetRun(env.store, {
          dag,
          logicalDate: day(date),
          interval: { start: day(date), end: day('2001-04-30') },
          conf: {},
          runType: 'manual',
        });
        await env.store.query(`UPDATE task_instances SET state = 'queued' WHERE run_id = $1`, [run.id]);
        for (let death = 0; death < deaths; death++) await dieOnce(run.id);
      };

      // Two deaths: the third attempt runs.
      await prepare('2001-04-01', 2);
      expect((await run(dag, '2001-04-01')).state).toBe('success');
      expect(ran).toEqual([3]);

      // Three deaths: three attempts ran; no fourth.
      ran.length = 0;
      await prepare('2001-04-02', 3);
      const result = await run(dag, '2001-04-02');
      expect(result.state).toBe('failed');
      expect(ran).toEqual([]);
      const [instance] = await listTaskInstances(env.store, result.run.id);
      expect(instance).toMatchObject({ state: 'failed', leaseExpirations: 3 });
      expect(instance?.error).toMatch(/expired 3 times: its process keeps dying/);
      const attempts = await listTaskAttempts(env.store, result.run.id);
      expect(attempts.filter((attempt) => attempt.state === 'lease_expired')).toHaveLength(3);
    },
  );

  it.skipIf(skip)('hands running attempts back on shutdown without using up a retry', async () => {
    const controller = new AbortController();
    let started = 0;
    const dag = defineDag({
      id: 'shutdown',
      description: '',
      tasks: [
        {
          id: 'long',
          run: ({ signal }) => {
            started++;
            if (started === 1) setTimeout(() => controller.abort(), 50);
            return new Promise((resolve, reject) => {
              const timer = setTimeout(() => resolve('finished'), started === 1 ? 10_000 : 10);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                reject(signal.reason);
              });
            });
          },
        },
      ],
    });
    const interrupted = await run(dag, '2001-01-15', { signal: controller.signal });
    expect(interrupted.state).toBe('running');
    const [instance] = await listTaskInstances(env.store, interrupted.run.id);
    expect(instance?.state).toBe('queued');
    expect(instance?.failures).toBe(0);
    const resumed = await run(dag, '2001-01-15');
    expect(resumed.state).toBe('success');
    const attempts = await listTaskAttempts(env.store, interrupted.run.id);
    expect(attempts.map((a) => a.state)).toEqual(['cancelled', 'success']);
  });
});

function dagDefinitionOf(dag: Dag) {
  return {
    id: dag.id,
    description: dag.description,
    tasks: dag.tasks.map((task) => ({ ...task, deps: [...task.deps] })),
  };
}

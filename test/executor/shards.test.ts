import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearTaskInstances,
  defineDag,
  listTaskInstances,
  parseLogicalDate,
  runDag,
} from '../../src/dag/index.ts';
import type { JsonValue, ShardOptions } from '../../src/dag/types.ts';
import { runWorker } from '../../src/executor/index.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(storeKinds())('task shards on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  /** A DAG whose `split` task shards `count` numbers; each shard squares its number. */
  function shardedDag(
    id: string,
    count: number,
    options: ShardOptions & { shardMs?: number; failures?: Record<string, number>; retries?: number } = {},
  ) {
    const runs: Record<string, number> = {};
    const dag = defineDag({
      id,
      description: '',
      tasks: [
        {
          id: 'split',
          retries: options.retries ?? 0,
          retryDelayMs: 10,
          run: async (ctx) => {
            const results = await ctx.shards(
              Array.from({ length: count }, (_, i) => ({ name: `n${i}`, spec: { n: i } })),
              { pollMs: 20, ...options },
            );
            return { results };
          },
          shard: async (spec, ctx) => {
            runs[ctx.shard] = (runs[ctx.shard] ?? 0) + 1;
            if (options.shardMs) await sleep(options.shardMs);
            const failures = options.failures?.[ctx.shard] ?? 0;
            // Counted per process, not by ctx.attempt: a retried task gives shards fresh attempts.
            if ((runs[ctx.shard] ?? 0) <= failures)
              throw new Error(`shard ${ctx.shard} attempt ${ctx.attempt} broke`);
            const n = (spec as { n: number }).n;
            return { n, square: n * n };
          },
        },
      ],
    });
    return { dag, runs };
  }
  const run = (dag: ReturnType<typeof shardedDag>['dag'], ds: string) =>
    runDag({
      store: env.store,
      config: env.config,
      dag,
      logicalDate: parseLogicalDate(ds, 'UTC'),
      maxPollMs: 20,
    });
  const outputs = async (runId: number) =>
    (await listTaskInstances(env.store, runId)).find((task) => task.taskId === 'split')?.outputs as {
      results: JsonValue[];
    };

  it.skipIf(skip)('runs every shard once and returns the results in plan order', async () => {
    const { dag, runs } = shardedDag('sh-basic', 7, { localConcurrency: 3 });
    const result = await run(dag, '2001-01-01');
    expect(result.state).toBe('success');
    expect((await outputs(result.run.id)).results).toEqual(
      Array.from({ length: 7 }, (_, n) => ({ n, square: n * n })),
    );
    expect(runs).toEqual(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`n${i}`, 1])));
  });

  it.skipIf(skip)('a worker takes shards of a task running elsewhere', async () => {
    const { dag, runs } = shardedDag('sh-shared', 8, { localConcurrency: 1, shardMs: 40 });
    const controller = new AbortController();
    const worker = runWorker({
      store: env.store,
      config: env.config,
      dags: [dag],
      maxPollMs: 20,
      concurrency: 3,
      signal: controller.signal,
    });
    const result = await run(dag, '2001-01-02');
    controller.abort();
    const report = await worker;
    expect(result.state).toBe('success');
    expect((await outputs(result.run.id)).results).toHaveLength(8);
    expect(Object.values(runs)).toEqual(Array(8).fill(1));
    // The worker ran some of them: the planner alone would have run them one at a time.
    expect(report.shards).toBeGreaterThan(0);
    expect(report.shards).toBeLessThan(8);
  });

  it.skipIf(skip)(
    'retries a failing shard, and fails the task naming a shard that keeps failing',
    async () => {
      const flaky = shardedDag('sh-flaky', 3, { failures: { n1: 2 } });
      const ok = await run(flaky.dag, '2001-01-03');
      expect(ok.state).toBe('success');
      expect(flaky.runs).toEqual({ n0: 1, n1: 3, n2: 1 });

      const broken = shardedDag('sh-broken', 3, { failures: { n2: 99 }, maxAttempts: 2 });
      const failed = await run(broken.dag, '2001-01-03');
      expect(failed.state).toBe('failed');
      const [task] = await listTaskInstances(env.store, failed.run.id);
      expect(task?.error).toContain("shard 'n2' of task 'split' failed 2 times");
      expect(task?.error).toContain('shard n2 attempt 2 broke');
    },
  );

  it.skipIf(skip)('a retried task does not redo finished shards; a cleared one does', async () => {
    // n1 fails once: with one attempt per shard the task fails, and its retry plans the same
    // shards again: n0 and n2 keep their results, n1 is queued afresh with a fresh attempt.
    const { dag, runs } = shardedDag('sh-retry', 3, { failures: { n1: 1 }, maxAttempts: 1, retries: 1 });
    const result = await run(dag, '2001-01-04');
    expect(result.state, JSON.stringify(await listTaskInstances(env.store, result.run.id))).toBe('success');
    expect(runs).toEqual({ n0: 1, n1: 2, n2: 1 });
    const [task] = await listTaskInstances(env.store, result.run.id);
    expect(task?.tryNumber).toBe(2);

    await clearTaskInstances(env.store, result.run.id);
    const again = await run(dag, '2001-01-04');
    expect(again.state).toBe('success');
    expect(runs).toEqual({ n0: 2, n1: 3, n2: 2 });
  });

  it.skipIf(skip)('rejects duplicate shard names and a task without a shard function', async () => {
    const dag = defineDag({
      id: 'sh-bad',
      description: '',
      tasks: [
        {
          id: 'dup',
          shard: () => 1,
          run: (ctx) =>
            ctx
              .shards([
                { name: 'a', spec: 1 },
                { name: 'a', spec: 2 },
              ])
              .then(() => ({})),
        },
        { id: 'none', run: (ctx) => ctx.shards([{ name: 'a', spec: 1 }]).then(() => ({})) },
      ],
    });
    const result = await run(dag, '2001-01-05');
    expect(result.state).toBe('failed');
    const errors = Object.fromEntries(
      (await listTaskInstances(env.store, result.run.id)).map((task) => [task.taskId, task.error]),
    );
    expect(errors.dup).toContain("shard name 'a' is used twice");
    expect(errors.none).toContain("calls ctx.shards but defines no 'shard' function");
  });
});

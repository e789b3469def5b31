import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearTaskInstances,
  defineDag,
  listTaskAttempts,
  listTaskInstances,
  parseLogicalDate,
  runDag,
} from '../../src/dag/index.ts';
import { getRun } from '../../src/dag/sql/runQueries.ts';
import type { Dag } from '../../src/dag/types.ts';
import { LeaseLostError, UsageError } from '../../src/errors.ts';
import type { Store } from '../../src/store/index.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const day = (ds: string) => parseLogicalDate(ds, 'UTC');

/** The same store, with a hook that runs before statements whose text starts with `prefix`. */
function interceptStore(store: Store, prefix: string, before: () => Promise<void>): Store {
  let fired = false;
  return {
    ...store,
    kind: store.kind,
    description: store.description,
    close: () => store.close(),
    transaction: (fn) => store.transaction(fn),
    withSession: (fn) => store.withSession(fn),
    async query(sql, params) {
      if (!fired && sql.trimStart().startsWith(prefix)) {
        fired = true;
        await before();
      }
      return store.query(sql, params);
    },
  };
}

describe.each(storeKinds())('runner edge cases on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });
  const run = (dag: Dag, ds: string, extra: Partial<Parameters<typeof runDag>[0]> = {}) =>
    runDag({ store: env.store, config: env.config, dag, logicalDate: day(ds), maxPollMs: 50, ...extra });

  it.skipIf(skip)('does not close a run over a task cleared while it was being closed', async () => {
    let calls = 0;
    const dag = defineDag({
      id: 'close-race',
      description: '',
      tasks: [{ id: 'a', run: () => void calls++ }],
    });
    let runId = 0;
    const store = interceptStore(env.store, 'UPDATE dag_runs SET state = $2', async () => {
      // Another process clears the task between the runner's read and its update.
      runId =
        (await env.store.query<{ id: number }>(`SELECT id FROM dag_runs WHERE dag_id = 'close-race'`)).rows[0]
          ?.id ?? 0;
      await clearTaskInstances(env.store, runId, { taskIds: ['a'] });
    });
    const result = await runDag({
      store,
      config: env.config,
      dag,
      logicalDate: day('2001-01-15'),
      maxPollMs: 50,
    });
    // The runner saw the cleared task, ran it again, then closed the run.
    expect(result.state).toBe('success');
    expect(calls).toBe(2);
    expect((await getRun(env.store, runId))?.state).toBe('success');
  });

  it.skipIf(skip)('follows the DAG as it is now when it changed between two attempts at a run', async () => {
    const v1 = defineDag({
      id: 'edited',
      description: '',
      tasks: [
        {
          id: 'a',
          run: () => {
            throw new Error('a is broken');
          },
        },
        { id: 'b', deps: ['a'], run: () => 'b ran' },
      ],
    });
    expect((await run(v1, '2001-01-15')).state).toBe('failed');
    const v2 = defineDag({ id: 'edited', description: '', tasks: [{ id: 'b', run: () => 'b ran' }] });
    const result = await run(v2, '2001-01-15');
    expect(result.state).toBe('success');
    const byId = Object.fromEntries(
      (await listTaskInstances(env.store, result.run.id)).map((ti) => [ti.taskId, ti]),
    );
    expect(byId.b).toMatchObject({ state: 'success', upstream: [], outputs: 'b ran' });
    // Removed from the DAG, its failure is history: not cleared, not run, not deciding the run.
    expect(byId.a).toMatchObject({ state: 'failed', tryNumber: 1 });
  });

  it.skipIf(skip)('stops and waits for its other attempts when the store fails for good', async () => {
    const dag = defineDag({
      id: 'store-fails',
      description: '',
      tasks: [
        { id: 'quick', run: () => 'done' },
        {
          id: 'slow',
          run: ({ signal }) =>
            new Promise((resolve, reject) => {
              const timer = setTimeout(() => resolve('finished'), 5_000);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                reject(signal.reason);
              });
            }),
        },
      ],
    });
    const broken = new Error('disk full');
    const failing: Store = {
      ...env.store,
      kind: env.store.kind,
      description: env.store.description,
      close: () => env.store.close(),
      transaction: (fn) => env.store.transaction(fn),
      withSession: (fn) => env.store.withSession(fn),
      async query(sql, params) {
        // The batched commit of 'quick' fails with an error that is not transient.
        if (sql.includes('WITH input AS') && JSON.stringify(params).includes('"quick"')) throw broken;
        return env.store.query(sql, params);
      },
    };
    const started = Date.now();
    await expect(
      runDag({ store: failing, config: env.config, dag, logicalDate: day('2001-01-15'), maxPollMs: 50 }),
    ).rejects.toBe(broken);
    expect(Date.now() - started).toBeLessThan(4_000);
    const { rows } = await env.store.query<{ id: number }>(
      `SELECT id FROM dag_runs WHERE dag_id = 'store-fails'`,
    );
    const instances = await listTaskInstances(env.store, rows[0]?.id ?? 0);
    // Nothing is left running behind the caller's back: the slow attempt was handed back.
    expect(instances.find((ti) => ti.taskId === 'slow')?.state).toBe('queued');
    const attempts = await listTaskAttempts(env.store, rows[0]?.id ?? 0);
    expect(attempts.find((a) => a.taskId === 'slow')?.state).toBe('cancelled');
  });

  it.skipIf(skip)(
    'refuses writes from a task whose lease was taken over, through its fenced transaction',
    async () => {
      let refused: unknown;
      const dag = defineDag({
        id: 'fenced-writes',
        description: '',
        tasks: [
          {
            id: 'promote',
            run: async (ctx) => {
              if (ctx.attempt > 1) return 'second attempt';
              // Another process took the lease over (as after an expiry): a new token.
              await ctx.store.query(
                `UPDATE task_instances SET lease_token = nextval('lease_tokens') WHERE run_id = $1 AND task_id = 'promote'`,
                [ctx.runId],
              );
              try {
                await ctx.transaction((tx) =>
                  tx.query(`INSERT INTO pools (name, slots) VALUES ('fenced-write', 1)`),
                );
              } catch (error) {
                refused = error;
              }
              return 'tried';
            },
          },
        ],
      });
      // The stale attempt's result is discarded too; the task is claimed again once the lease
      // (300 ms here) of the 'other process' expires.
      const result = await run(dag, '2001-01-15', { leaseMs: 300 });
      expect(result.state).toBe('success');
      expect(refused).toBeInstanceOf(LeaseLostError);
      const { rows } = await env.store.query(`SELECT 1 FROM pools WHERE name = 'fenced-write'`);
      expect(rows).toHaveLength(0);
      // While the lease is held, the same transaction commits.
      const allowed = defineDag({
        id: 'fenced-writes-held',
        description: '',
        tasks: [
          {
            id: 'promote',
            run: (ctx) =>
              ctx
                .transaction((tx) => tx.query(`INSERT INTO pools (name, slots) VALUES ('fenced-ok', 1)`))
                .then(() => 'wrote'),
          },
        ],
      });
      expect((await run(allowed, '2001-01-15')).state).toBe('success');
      expect((await env.store.query(`SELECT 1 FROM pools WHERE name = 'fenced-ok'`)).rows).toHaveLength(1);
    },
  );

  it.skipIf(skip)('refuses a DAG whose task uses a pool with no slots, before creating a run', async () => {
    await env.store.query(`INSERT INTO pools (name, slots) VALUES ('closed', 0) ON CONFLICT DO NOTHING`);
    const dag = defineDag({
      id: 'closed-pool',
      description: '',
      tasks: [{ id: 'gpu', pool: 'closed', run: () => 1 }],
    });
    await expect(run(dag, '2001-01-15')).rejects.toThrowError(UsageError);
    await expect(run(dag, '2001-01-15')).rejects.toThrowError("uses pool 'closed', which has 0 slots");
    const { rows } = await env.store.query(`SELECT 1 FROM dag_runs WHERE dag_id = 'closed-pool'`);
    expect(rows).toHaveLength(0);
  });

  it.skipIf(skip)('caps concurrent tasks of a pool at its slots', async () => {
    await env.store.query(`INSERT INTO pools (name, slots) VALUES ('gpu', 2) ON CONFLICT DO NOTHING`);
    let running = 0;
    let peak = 0;
    const work = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 30));
      running--;
    };
    const dag = defineDag({
      id: 'pooled',
      description: '',
      tasks: Array.from({ length: 6 }, (_, i) => ({ id: `score${i}`, pool: 'gpu', run: work })),
    });
    const result = await run(dag, '2001-01-15', { concurrency: 8 });
    expect(result.state).toBe('success');
    expect(peak).toBe(2);
  });
});

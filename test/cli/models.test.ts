// `nightshift models promote|rollback` as a user runs them: refusals caused by the registry's
// state exit 3 (not 2, which is bad usage), and a rollback prints what its transaction did.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAliases, lockModel } from '../../src/registry/aliases.ts';
import { promoteVersion } from '../../src/registry/promote.ts';
import type { Store } from '../../src/store/index.ts';
import { runCli, spawnCli } from '../helpers/child.ts';
import { bless, register } from '../helpers/registry.ts';
import { describeWithPostgres } from '../helpers/services.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const actor = 'test@host';

/** A registered version blessed (or rejected) against `baselineVersion`, the champion it was compared with. */
async function registerBlessed(
  store: Store,
  home: string,
  model: string,
  passed = true,
  baselineVersion: number | null = null,
): Promise<number> {
  const version = await register(store, home, model);
  await bless(store, model, version, passed, baselineVersion);
  return version;
}

describe.each(storeKinds())('models promote and rollback exit codes ($kind store)', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind, { serve: true });
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it.skipIf(skip)(
    'exits 3 for refusals by the registry state, 2 for bad usage, and changes nothing',
    async () => {
      const model = 'refused';
      for (const passed of [true, true, false])
        await registerBlessed(env.store, env.config.home, model, passed);
      const promoted = await runCli(['models', 'promote', model, '1', '--reason', 'first'], env.env);
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(promoted.stdout).toBe('refused: champion (none) -> 1\n');

      const cases: [string[], number, string][] = [
        [['models', 'promote', model, '1', '--reason', 'again'], 3, 'refused@1 is already champion'],
        [['models', 'rollback', model, '--reason', 'r'], 3, "model 'refused' has no 'previous' version"],
        [['models', 'rollback', model, '--to', '1', '--reason', 'r'], 3, 'refused@1 is already champion'],
        [['models', 'promote', model, '3', '--reason', 'r'], 3, 'refusing to promote refused@3'],
        [
          ['models', 'rollback', model, '--to', '3', '--reason', 'r'],
          3,
          'refusing to roll refused back to version 3',
        ],
        [['models', 'promote', model, '9', '--reason', 'r'], 2, "model 'refused' has no version 9"],
        [['models', 'promote', model, 'x', '--reason', 'r'], 2, "invalid version 'x'"],
      ];
      // Refusals change nothing, so they can run at once.
      const results = await Promise.all(cases.map(([args]) => runCli(args, env.env)));
      for (const [index, [args, code, message]] of cases.entries()) {
        const result = results[index] as Awaited<ReturnType<typeof runCli>>;
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(code);
        expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
        expect(result.stderr, args.join(' ')).toContain(message);
        expect(result.stdout, args.join(' ')).toBe('');
      }
      expect(await getAliases(env.store, model)).toEqual({ champion: 1 });
    },
    // Nine CLI processes: about 50 s on a loaded 2-core machine.
    180_000,
  );
});

describeWithPostgres('models rollback while the champion moves', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await openTestEnvironment('postgres');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('prints the move its transaction made, not the champion read before it', async () => {
    const model = 'moving';
    // Each version blessed against the champion it will replace: none, then 1, then 2.
    for (const baseline of [null, 1, 2])
      await registerBlessed(env.store, env.config.home, model, true, baseline);
    for (const version of [1, 2])
      await env.store.transaction((tx) => promoteVersion(tx, { model, version, reason: 'r', actor }));
    expect(await getAliases(env.store, model)).toEqual({ champion: 2, previous: 1 });

    let rollback: ReturnType<typeof spawnCli> | undefined;
    // Hold the model's lock, let the rollback queue behind it, then promote 3 (previous becomes 2).
    await env.store.transaction(async (tx) => {
      await lockModel(tx, model);
      rollback = spawnCli(['models', 'rollback', model, '--reason', 'worse'], env.env);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { rows } = await env.store.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'`,
        );
        if ((rows[0]?.n ?? 0) > 0) break;
        if (Date.now() > deadline)
          throw new Error(`the rollback never waited for the lock: ${rollback.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await promoteVersion(tx, { model, version: 3, reason: 'r', actor });
    });
    const spawned = rollback as NonNullable<typeof rollback>;
    const { code } = await spawned.exited;
    expect(code, spawned.stderr()).toBe(0);
    expect(spawned.stdout()).toBe('moving: champion 3 -> 2 (rolled back)\n');
    expect(await getAliases(env.store, model)).toEqual({ champion: 2 });
  }, 120_000);
});

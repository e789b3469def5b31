import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aliasHistory,
  getAliases,
  PromotionRefusedError,
  resolveModelRef,
} from '../../src/registry/aliases.ts';
import { promoteVersion, rollbackChampion } from '../../src/registry/promote.ts';
import { getModelVersion } from '../../src/registry/versions.ts';
import { createPostgresStore } from '../../src/store/index.ts';
import { bless, register } from '../helpers/registry.ts';
import { describeWithPostgres } from '../helpers/services.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const actor = 'test@host';

describe.each(storeKinds())('the registry on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it.skipIf(skip)(
    'promotes blessed versions, keeps previous, and records every move with its blessing',
    async () => {
      const model = 'promote-flow';
      const v1 = await register(env.store, env.config.home, model);
      const v2 = await register(env.store, env.config.home, model);
      expect([v1, v2]).toEqual([1, 2]);
      const b1 = await bless(env.store, model, v1, true);
      const b2 = await bless(env.store, model, v2, true, v1);
      await env.store.transaction((tx) =>
        promoteVersion(tx, { model, version: v1, reason: 'first model', actor }),
      );
      await env.store.transaction((tx) =>
        promoteVersion(tx, { model, version: v2, reason: 'better AUC', actor }),
      );
      expect(await getAliases(env.store, model)).toEqual({ champion: 2, previous: 1 });
      expect((await resolveModelRef(env.store, `${model}@champion`)).version).toBe(2);
      expect((await resolveModelRef(env.store, `${model}@previous`)).version).toBe(1);
      expect((await getModelVersion(env.store, model, 2))?.status).toBe('blessed');

      await env.store.transaction((tx) =>
        rollbackChampion(tx, { model, reason: 'v2 worse on fresh labels', actor }),
      );
      expect(await getAliases(env.store, model)).toEqual({ champion: 1 });
      await expect(
        env.store.transaction((tx) => rollbackChampion(tx, { model, reason: 'again', actor })),
      ).rejects.toThrowError(
        "model 'promote-flow' has no 'previous' version to roll back to: name one with --to <version>",
      );

      const history = await aliasHistory(env.store, model);
      expect(
        history.map((m) => [m.alias, m.action, m.fromVersion, m.toVersion, m.reason, m.blessingId, m.forced]),
      ).toEqual([
        ['champion', 'promote', null, 1, 'first model', b1, false],
        ['previous', 'promote', null, 1, 'better AUC', null, false],
        ['champion', 'promote', 1, 2, 'better AUC', b2, false],
        ['champion', 'rollback', 2, 1, 'v2 worse on fresh labels', b1, false],
        ['previous', 'rollback', 1, null, 'v2 worse on fresh labels', null, false],
      ]);
      // History is append-only.
      await expect(
        env.store.query(`DELETE FROM alias_history WHERE model = $1`, [model]),
      ).rejects.toThrowError(/append-only/);
    },
  );

  it.skipIf(skip)(
    'refuses a blessing made against a champion that is no longer champion; a fresh blessing promotes',
    async () => {
      const model = 'stale-blessing';
      for (let i = 0; i < 3; i++) await register(env.store, env.config.home, model);
      await bless(env.store, model, 1, true);
      await env.store.transaction((tx) => promoteVersion(tx, { model, version: 1, reason: 'first', actor }));
      const stale = await bless(env.store, model, 2, true, 1);
      await bless(env.store, model, 3, true, 1);
      await env.store.transaction((tx) => promoteVersion(tx, { model, version: 3, reason: 'v3', actor }));
      // v2 was compared with v1; v3 is champion now.
      const refused = env.store.transaction((tx) =>
        promoteVersion(tx, { model, version: 2, reason: 'v2', actor }),
      );
      await expect(refused).rejects.toThrowError(PromotionRefusedError);
      await expect(refused).rejects.toThrowError(
        `refusing to promote stale-blessing@2: its blessing (#${stale}) was made against champion 1, but the champion is now 3; validate it again, or use --force to promote it anyway (recorded as forced)`,
      );
      expect(await getAliases(env.store, model)).toEqual({ champion: 3, previous: 1 });
      // Blessed again against the current champion, it is promoted.
      await bless(env.store, model, 2, true, 3);
      await env.store.transaction((tx) =>
        promoteVersion(tx, { model, version: 2, reason: 'v2 again', actor }),
      );
      expect(await getAliases(env.store, model)).toEqual({ champion: 2, previous: 3 });
    },
  );

  it.skipIf(skip)(
    'refuses a version that was never blessed or failed its blessing, unless forced',
    async () => {
      const model = 'refusals';
      const v1 = await register(env.store, env.config.home, model);
      const v2 = await register(env.store, env.config.home, model);
      await expect(
        env.store.transaction((tx) => promoteVersion(tx, { model, version: v1, reason: 'try', actor })),
      ).rejects.toThrowError(/refusing to promote refusals@1: it was never validated; use --force/);
      await bless(env.store, model, v2, false);
      expect((await getModelVersion(env.store, model, v2))?.status).toBe('rejected');
      const refused = env.store.transaction((tx) =>
        promoteVersion(tx, { model, version: v2, reason: 'try', actor }),
      );
      await expect(refused).rejects.toBeInstanceOf(PromotionRefusedError);
      await expect(refused).rejects.toThrowError(/its latest blessing \(#\d+\) failed: AUC 0.60 < 0.65/);
      expect(await getAliases(env.store, model)).toEqual({});

      await env.store.transaction((tx) =>
        promoteVersion(tx, { model, version: v2, reason: 'operator override', actor, force: true }),
      );
      const [move] = await aliasHistory(env.store, model);
      expect(move).toMatchObject({
        alias: 'champion',
        toVersion: 2,
        forced: true,
        blessingId: null,
        reason: 'operator override',
      });
    },
  );

  it.skipIf(skip)('resolves references and names what exists when one is wrong', async () => {
    const model = 'refs';
    await register(env.store, env.config.home, model);
    await register(env.store, env.config.home, model);
    expect((await resolveModelRef(env.store, 'refs@latest')).version).toBe(2);
    expect((await resolveModelRef(env.store, 'refs@1')).version).toBe(1);
    await expect(resolveModelRef(env.store, 'refs@7')).rejects.toThrowError(
      "refs@7: model 'refs' has versions 1, 2",
    );
    await expect(resolveModelRef(env.store, 'refs@champion')).rejects.toThrowError(
      /model 'refs' has no alias 'champion'/,
    );
    await expect(resolveModelRef(env.store, 'nope@1')).rejects.toThrowError("no model 'nope' is registered");
    await expect(resolveModelRef(env.store, 'refs')).rejects.toThrowError(
      /expected <model>@<version\|alias>/,
    );
  });
});

describeWithPostgres('concurrent promotions on Postgres', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await openTestEnvironment('postgres');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('leave exactly one champion and refuse the promotion whose blessing saw another champion', async () => {
    const model = 'race';
    const versions = [];
    for (let i = 0; i < 3; i++) versions.push(await register(env.store, env.config.home, model));
    await bless(env.store, model, 1, true);
    // Both candidates were validated against champion 1.
    await bless(env.store, model, 2, true, 1);
    await bless(env.store, model, 3, true, 1);
    await env.store.transaction((tx) => promoteVersion(tx, { model, version: 1, reason: 'start', actor }));
    // Two separate connection pools, as two processes would have.
    const other = createPostgresStore(env.env.DATABASE_URL as string);
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await Promise.allSettled([
        env.store.transaction((tx) => promoteVersion(tx, { model, version: 2, reason: 'A', actor: 'a' })),
        other.transaction((tx) => promoteVersion(tx, { model, version: 3, reason: 'B', actor: 'b' })),
      ]);
    } finally {
      await other.close();
    }
    // Serialised on the model row: the second saw the first one's champion, not the one its
    // blessing was compared with, and was refused.
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(PromotionRefusedError);
    const aliases = await getAliases(env.store, model);
    const winner = aliases.champion as number;
    expect(refused.reason.message).toMatch(
      new RegExp(
        `^refusing to promote race@${5 - winner}: its blessing \\(#\\d+\\) was made against champion 1, but the champion is now ${winner}; validate it again`,
      ),
    );
    const champions = await env.store.query(
      `SELECT 1 FROM model_aliases WHERE model = $1 AND alias = 'champion'`,
      [model],
    );
    expect(champions.rows).toHaveLength(1);
    const history = (await aliasHistory(env.store, model)).filter((move) => move.alias === 'champion');
    expect(history.map((move) => [move.fromVersion, move.toVersion])).toEqual([
      [null, 1],
      [1, winner],
    ]);
    expect(aliases.previous).toBe(1);
  });
});

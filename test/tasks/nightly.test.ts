import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type NightshiftConfig } from '../../src/config.ts';
import { defineDag, listTaskInstances, runDag, runForDay } from '../../src/dag/index.ts';
import type { Dag } from '../../src/dag/types.ts';
import { prepareFlights } from '../../src/data/index.ts';
import { aliasHistory, getAliases } from '../../src/registry/aliases.ts';
import { promoteVersion } from '../../src/registry/promote.ts';
import { listModelVersions } from '../../src/registry/versions.ts';
import { nightlyTasks } from '../../src/tasks/index.ts';
import type { RuleSpec } from '../../src/validation/index.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment, tempDir } from '../helpers/stores.ts';

// Small on purpose: a week of training data and three epochs keep a night to seconds. The
// rules are the flights rules' kinds with a floor such a model clears. Training is seeded, so
// every number here is the same on every run with the same backend.
const rules: RuleSpec[] = [
  { kind: 'floor', metric: 'auc', min: 0.5 },
  { kind: 'change', metric: 'auc', mode: 'absolute', maxWorsening: 0.02 },
  { kind: 'finiteScores' },
  { kind: 'infra', budgetMs: 60_000 },
];

function nightly(trainingOverrides: Record<string, number>): Dag {
  return defineDag({
    id: 'flights-nightly-test',
    description: 'the nightly flow, small',
    schedule: '@daily',
    tasks: nightlyTasks({
      pipeline: 'flights-delay',
      blessingRules: rules,
      rollback: { metric: 'auc', maxDrop: 0.02 },
      windowDays: 7,
      scoringWorkers: 1,
      // A higher learning rate than the pipeline's lets a few epochs on a week learn something.
      trainingOverrides: { epochs: 3, learningRate: 0.02, ...trainingOverrides },
    }),
  });
}

const good = nightly({});
// A learning rate of zero leaves the initial weights: a model no better than chance.
const broken = nightly({ learningRate: 0 });

describe.each(storeKinds())('the nightly DAG on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  let config: NightshiftConfig;
  beforeAll(async () => {
    if (skip) return;
    env = await openTestEnvironment(kind);
    const dataDir = tempDir('nightshift-flights-');
    config = loadConfig({ home: env.config.home, dataDir, databaseUrl: env.config.databaseUrl });
    await prepareFlights({ dataDir, from: '2001-01-15', to: '2001-01-30' });
  }, 180_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  const night = async (dag: Dag, day: string) => {
    const result = await runDag({
      store: env.store,
      config,
      dag,
      logicalDate: runForDay(dag, day).start,
      maxPollMs: 100,
    });
    const tasks = Object.fromEntries(
      (await listTaskInstances(env.store, result.run.id)).map((ti) => [ti.taskId, ti]),
    );
    return { result, tasks };
  };

  it.skipIf(skip)(
    'promotes a blessed first model, rejects a worse one, promotes a better one, rolls back a bad champion, refuses a tampered artifact',
    async () => {
      // Night 1: no champion yet; floors and sanity decide; the candidate is promoted.
      const first = await night(good, '2001-01-25');
      expect(first.result.state).toBe('success');
      expect(first.tasks.score?.state).toBe('skipped');
      expect(first.tasks.validate?.outputs).toMatchObject({ candidate: 1, champion: null });
      expect(first.tasks.promote?.state, JSON.stringify(first.tasks.validate?.outputs)).toBe('success');
      expect(first.tasks.keep?.state).toBe('skipped');
      expect(await getAliases(env.store, 'flights-delay')).toEqual({ champion: 1 });

      // Night 2: a worse candidate is rejected and the champion stays; day D is scored by it.
      const second = await night(broken, '2001-01-26');
      expect(second.result.state).toBe('success');
      expect(second.tasks.score?.outputs).toMatchObject({ version: 1, rows: expect.any(Number) });
      expect((second.tasks.score?.outputs as { rows: number } | undefined)?.rows).toBeGreaterThan(10_000);
      // Scored through ctx.shards, so that workers elsewhere could have taken shards: every
      // planned shard is done, with the rows of the task's output.
      const shards = await env.store.query<{ state: string; rows: number }>(
        `SELECT state, (result->>'rows')::int AS rows FROM task_shards WHERE run_id = $1 AND task_id = 'score'`,
        [second.result.run.id],
      );
      expect(shards.rows.length).toBeGreaterThan(0);
      expect(shards.rows.every((row) => row.state === 'success')).toBe(true);
      expect(shards.rows.reduce((sum, row) => sum + row.rows, 0)).toBe(
        (second.tasks.score?.outputs as { rows: number } | undefined)?.rows,
      );
      expect(second.tasks.validate?.outputs).toMatchObject({ candidate: 2, champion: 1, passed: false });
      expect(second.tasks.promote?.state).toBe('skipped');
      expect(second.tasks.keep?.outputs).toMatchObject({ champion: 1, rejected: 2 });
      expect(await getAliases(env.store, 'flights-delay')).toEqual({ champion: 1 });

      // Night 3: a good candidate is promoted; the old champion becomes previous.
      const third = await night(good, '2001-01-27');
      expect(third.tasks.validate?.outputs).toMatchObject({ candidate: 3, champion: 1, passed: true });
      expect(await getAliases(env.store, 'flights-delay')).toEqual({ champion: 3, previous: 1 });

      // An operator forces the rejected version in; the next night's monitor rolls it back.
      await env.store.transaction((tx) =>
        promoteVersion(tx, {
          model: 'flights-delay',
          version: 2,
          reason: 'operator test',
          actor: 'test',
          force: true,
        }),
      );
      const fourth = await night(good, '2001-01-28');
      expect(fourth.tasks.monitor?.outputs).toMatchObject({ champion: 2, previous: 3, rolledBack: true });
      expect((fourth.tasks.score?.outputs as { version: number } | undefined)?.version).toBe(3);

      const history = await aliasHistory(env.store, 'flights-delay');
      const championMoves = history.filter((move) => move.alias === 'champion');
      expect(
        championMoves.map((move) => [move.action, move.fromVersion, move.toVersion, move.forced]),
      ).toEqual([
        ['promote', null, 1, false],
        ['promote', 1, 3, false],
        ['promote', 3, 2, true],
        ['rollback', 2, 3, false],
        ...(fourth.tasks.promote?.state === 'success'
          ? [
              [
                'promote',
                3,
                (fourth.tasks.validate?.outputs as { candidate: number } | undefined)?.candidate,
                false,
              ],
            ]
          : []),
      ]);
      expect(championMoves[3]?.reason).toMatch(/^monitor on 2001-01-27: champion AUC .* worse than previous/);
      expect(championMoves[3]?.actor).toMatch(/^dag:flights-nightly-test\/run:\d+$/);
      const statuses = Object.fromEntries(
        (await listModelVersions(env.store, 'flights-delay')).map((v) => [v.version, v.status]),
      );
      expect(statuses[2]).toBe('rejected');

      // A tampered artifact of the champion is refused by name when the next night scores.
      const champion = (await getAliases(env.store, 'flights-delay')).champion as number;
      const weights = path.join(config.home, 'artifacts', 'flights-delay', String(champion), 'weights.bin');
      const bytes = fs.readFileSync(weights);
      bytes[100] = (bytes[100] ?? 0) ^ 0xff;
      fs.writeFileSync(weights, bytes);
      const fifth = await night(good, '2001-01-29');
      expect(fifth.result.state).toBe('failed');
      // The monitor (when there is a previous to compare with) or else the scorer loads it first.
      const refused = Object.values(fifth.tasks).filter((task) => task.state === 'failed');
      expect(refused).toHaveLength(1);
      expect(refused[0]?.error).toMatch(/weights\.bin/);
      expect(fifth.tasks.promote?.state).toBe('upstream_failed');
    },
    300_000,
  );
});

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type NightshiftConfig } from '../../src/config.ts';
import { defineDag, listTaskInstances, runDag, runForDay } from '../../src/dag/index.ts';
import type { Dag, TaskDefinition } from '../../src/dag/types.ts';
import { sqlString } from '../../src/data/duckdb.ts';
import { getAliases } from '../../src/registry/aliases.ts';
import { latestBlessing } from '../../src/registry/blessings.ts';
import { getModelVersion } from '../../src/registry/versions.ts';
import { nightlyTasks } from '../../src/tasks/index.ts';
import { type NightlyOptions, planNightly } from '../../src/tasks/nightly.ts';
import type { RuleSpec } from '../../src/validation/index.ts';
import { query } from '../data/helpers.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment, tempDir } from '../helpers/stores.ts';
import { writeRegressionDays } from './regressionData.ts';

const pipelinesDir = path.resolve('test/fixtures/pipelines');

// Value rules a sane model clears on the synthetic minutes (noise +-5: MAE about 3-5; the label's
// standard deviation is about 20), and change rules against the champion.
const rules: RuleSpec[] = [
  { kind: 'ceiling', metric: 'mae', max: 12 },
  { kind: 'floor', metric: 'r2', min: 0.5 },
  { kind: 'change', metric: 'mae', mode: 'relative', maxWorsening: 0.5 },
  {
    kind: 'slice',
    metric: 'rmse',
    mode: 'relative',
    maxWorsening: 0.5,
    minCount: 20,
    slices: { column: 'shop', busiest: 4 },
  },
  { kind: 'finiteScores' },
  { kind: 'infra', budgetMs: 60_000 },
];

function options(overrides: Partial<NightlyOptions> = {}): NightlyOptions {
  return {
    pipeline: 'synthetic-regression',
    pipelinesDir,
    blessingRules: rules,
    rollback: { metric: 'mae', maxDrop: 2 },
    scoringWorkers: 1,
    ingest: async (context) => ({ day: context.ds }),
    ...overrides,
  };
}

function dagOf(id: string, tasks: TaskDefinition[]): Dag {
  return defineDag({ id, description: 'synthetic regression nightly', schedule: '@daily', tasks });
}

/** Renames the alias table for the length of `fn`: every lookup of a champion fails in the store. */
async function withBrokenAliases<T>(env: TestEnvironment, fn: () => Promise<T>): Promise<T> {
  await env.store.query('ALTER TABLE model_aliases RENAME TO model_aliases_away');
  try {
    return await fn();
  } finally {
    await env.store.query('ALTER TABLE model_aliases_away RENAME TO model_aliases');
  }
}

describe.each(storeKinds())('the nightly DAG of a regression on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  let config: NightshiftConfig;
  beforeAll(async () => {
    if (skip) return;
    env = await openTestEnvironment(kind);
    const dataDir = tempDir('nightshift-synthetic-');
    config = loadConfig({ home: env.config.home, dataDir, databaseUrl: env.config.databaseUrl });
    // 100 rows a day: the holdout { minRows: 150 } takes two days. Day 2024-01-12 has a constant
    // label, so R² is undefined on a holdout made of it alone.
    await writeRegressionDays(dataDir, {
      from: '2024-01-01',
      days: 13,
      rowsPerDay: 100,
      constant: ['2024-01-12'],
    });
  }, 120_000);
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
    'trains with the recorded log1p transform, blesses a first champion on value rules, measures MAE/RMSE/R², never NaN',
    async () => {
      const dag = dagOf('synthetic-nightly', nightlyTasks(options()));
      // Night of 01-10: holdout { minRows: 150 } = 01-08..09 (200 rows); window 6 days 01-02..07.
      const first = await night(dag, '2024-01-10');
      expect(first.result.state, JSON.stringify(first.tasks.validate?.error)).toBe('success');
      expect(first.tasks.monitor?.state).toBe('skipped');
      expect(first.tasks.score?.state).toBe('skipped');
      const train = first.tasks.train?.outputs as Record<string, unknown>;
      expect(train).toMatchObject({ task: 'regression', from: '2024-01-02', to: '2024-01-07' });
      expect(train.holdout).toMatchObject({ from: '2024-01-08', to: '2024-01-09', days: 2, rows: 200 });
      const holdout = train.holdout as {
        metrics: Record<string, number>;
        baseline: { metrics: Record<string, number> };
      };
      expect(Object.keys(holdout.metrics).sort()).toEqual(['mae', 'r2', 'rmse']);
      // The model beats the per-(shop, hour) mean of the window, which ignores x.
      expect(holdout.metrics.mae).toBeLessThan(holdout.baseline.metrics.mae as number);

      const validate = first.tasks.validate?.outputs as Record<string, unknown>;
      expect(validate).toMatchObject({
        candidate: 1,
        champion: null,
        passed: true,
        holdout: '2024-01-08..2024-01-09',
      });
      const candidateMetrics = validate.candidateMetrics as Record<string, number>;
      expect(Object.keys(candidateMetrics).sort()).toEqual(['mae', 'r2', 'rmse']);
      expect(candidateMetrics.mae).toBeLessThan(12);
      expect(candidateMetrics.r2).toBeGreaterThan(0.5);
      // Scored in minutes: the transform was inverted (log1p minutes are about 3.7).
      expect(candidateMetrics.rmse).toBeLessThan(15);
      expect(JSON.stringify(first.tasks)).not.toMatch(/auc/i);
      expect(await getAliases(env.store, 'synthetic-regression')).toEqual({ champion: 1 });
      const version = await getModelVersion(env.store, 'synthetic-regression', 1);
      expect(version?.lineage.settings).toMatchObject({ loss: 'huber', targetTransform: 'log1p' });

      // Night of 01-11: the champion scores day 01-11 in minutes; a candidate is compared with it.
      const second = await night(dag, '2024-01-11');
      expect(second.result.state).toBe('success');
      expect(second.tasks.score?.outputs).toMatchObject({ version: 1, rows: 100 });
      // Batch scoring inverted the artifact's log1p: predictions are minutes (the day's mean is
      // about 40), not log1p minutes (about 3.7).
      const output = (second.tasks.score?.outputs as { output?: string } | undefined)?.output as string;
      const [[meanScore]] = (await query(
        `SELECT avg(score) FROM read_parquet(${sqlString(path.join(output, 'shard-*.parquet'))})`,
      )) as [[number]];
      expect(meanScore).toBeGreaterThan(30);
      expect(meanScore).toBeLessThan(55);
      const validated = second.tasks.validate?.outputs as Record<string, unknown>;
      expect(validated).toMatchObject({ candidate: 2, champion: 1 });
      const blessing = await latestBlessing(env.store, 'synthetic-regression', 2);
      expect(blessing?.baselineVersion).toBe(1);
      const verdicts = ((blessing?.rules ?? []) as { rule: string; verdict: string }[]).map((r) => [
        r.rule,
        r.verdict,
      ]);
      expect(verdicts.filter(([rule]) => rule?.startsWith('rmse slice')).length).toBe(4);
      expect(verdicts.filter(([, verdict]) => verdict === 'fail')).toEqual(
        validated.passed ? [] : expect.anything(),
      );
    },
    300_000,
  );

  it.skipIf(skip)(
    'reports R² on a constant-label holdout as skipped with its reason: in the blessing, the outputs and the monitor',
    async () => {
      // Holdout { days: 1 } of the night of 01-13: 01-12, whose label is constant.
      const dag = dagOf(
        'synthetic-constant',
        nightlyTasks(options({ trainingOverrides: { holdout: { days: 1 }, epochs: 5 } })),
      );
      const result = await night(dag, '2024-01-13');
      expect(result.result.state).toBe('success');
      const validate = result.tasks.validate?.outputs as Record<string, unknown>;
      expect(validate.skippedMetrics).toEqual({ r2: 'zero variance: all 100 labels are 30' });
      expect((validate.candidateMetrics as Record<string, unknown>).r2).toBeNull();
      const blessing = await latestBlessing(env.store, 'synthetic-regression', validate.candidate as number);
      const r2 = ((blessing?.rules ?? []) as { rule: string; verdict: string; reason: string }[]).find(
        (rule) => rule.rule === 'r2 floor',
      );
      expect(r2).toMatchObject({
        verdict: 'skipped',
        reason: 'R² skipped: zero variance: all 100 labels are 30',
      });
      // The monitor compares champion and previous when both exist; its outputs are JSON either way.
      expect(JSON.stringify(result.tasks.monitor?.outputs ?? null)).not.toMatch(/NaN/);
    },
    300_000,
  );

  it.skipIf(skip)(
    'fails validate and score on a store error looking up the champion, instead of taking it for no champion',
    async () => {
      const [ingest, , score, train, validate] = nightlyTasks(
        options({
          trainingOverrides: { epochs: 2 },
          blessingRules: [{ kind: 'ceiling', metric: 'mae', max: 1000 }],
        }),
      ) as TaskDefinition[];
      const sabotage = (id: string, deps: string[]): TaskDefinition => ({
        id,
        deps,
        run: async () => {
          await env.store.query('ALTER TABLE model_aliases RENAME TO model_aliases_away');
          return {};
        },
      });
      const repair = async () => env.store.query('ALTER TABLE model_aliases_away RENAME TO model_aliases');
      const validateDag = dagOf('synthetic-broken-validate', [
        { ...(ingest as TaskDefinition), retries: 0 },
        { ...(train as TaskDefinition), deps: ['ingest'], triggerRule: 'all_success' },
        sabotage('sabotage', ['train']),
        { ...(validate as TaskDefinition), deps: ['train', 'sabotage'], retries: 0 },
      ]);
      let broken: Awaited<ReturnType<typeof night>>;
      try {
        broken = await night(validateDag, '2024-01-11');
      } finally {
        await repair();
      }
      expect(broken.tasks.validate?.state).toBe('failed');
      expect(broken.tasks.validate?.error).toMatch(/model_aliases/);
      const candidate = Number((broken.tasks.train?.outputs as { version?: number } | undefined)?.version);
      expect(await latestBlessing(env.store, 'synthetic-regression', candidate)).toBeUndefined();

      // The champion exists (first test): a broken lookup must fail scoring, not skip it.
      const scoreDag = dagOf('synthetic-broken-score', [
        { ...(ingest as TaskDefinition), retries: 0 },
        { ...(score as TaskDefinition), deps: ['ingest'], retries: 0 },
      ]);
      const scored = await withBrokenAliases(env, () => night(scoreDag, '2024-01-11'));
      expect(scored.tasks.score?.state).toBe('failed');
      expect(scored.tasks.score?.error).toMatch(/model_aliases/);
    },
    300_000,
  );
});

describe('nightlyTasks against the pipeline task', () => {
  it('refuses a rule or rollback metric the regression cannot measure when the plan is built, naming the rule', async () => {
    const plan = planNightly(
      options({
        blessingRules: [
          { kind: 'ceiling', metric: 'mae', max: 10 },
          { kind: 'floor', metric: 'auc', min: 0.6 },
        ],
      }),
    );
    await expect(plan()).rejects.toThrowError(
      "validation rule 1 'auc floor': metric 'auc' is not measured for a regression task: expected one of mae, rmse, r2",
    );
    await expect(planNightly(options({ rollback: { maxDrop: 1 } }))()).rejects.toThrowError(
      "rollback rule 'auc rollback': metric 'auc' is not measured for a regression task",
    );
    await expect(planNightly(options({ trainingOverrides: { loss: 'mae' } }))()).rejects.toThrowError(
      "nightlyTasks(synthetic-regression): training settings with trainingOverrides: 'huberDelta' applies to loss 'huber' only, found loss 'mae'",
    );
    const planned = await planNightly(options())();
    expect(planned.holdoutSpec).toEqual({ minRows: 150 });
  });
});

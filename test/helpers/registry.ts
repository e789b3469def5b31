// Registry rows for tests that need versions and blessings, not trained models.
import { recordBlessing } from '../../src/registry/blessings.ts';
import { registerModelVersion } from '../../src/registry/versions.ts';
import type { Store } from '../../src/store/index.ts';

/** Registers a version without training: the registry only needs its row. */
export async function register(store: Store, home: string, model: string): Promise<number> {
  const version = await registerModelVersion(store, {
    model,
    pipeline: 'test-pipeline',
    home,
    metrics: { auc: 0.7 },
    lineage: {
      pipeline: 'test-pipeline',
      dataset: 'test',
      partitions: [],
      seed: 1,
      backend: 'cpu',
      gitCommit: null,
      settings: {},
    },
    trainingCurves: [],
    writeArtifact: async (n) => ({ dir: `${home}/artifacts/${model}/${n}`, manifestSha256: 'x'.repeat(64) }),
  });
  return version.version;
}

/** Blesses (or rejects) a version against `against`, the champion it was compared with. */
export async function bless(
  store: Store,
  model: string,
  version: number,
  passed: boolean,
  against: number | null = null,
): Promise<number> {
  return store.transaction(async (tx) => {
    const blessing = await recordBlessing(tx, {
      model,
      version,
      passed,
      baselineVersion: against,
      holdout: { date: '2001-02-01' },
      rules: [
        {
          rule: 'auc floor',
          verdict: passed ? 'pass' : 'fail',
          reason: passed ? 'AUC 0.70 >= 0.65' : 'AUC 0.60 < 0.65',
        },
      ],
    });
    return blessing.id;
  });
}

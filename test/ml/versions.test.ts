import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentGitCommit } from '../../src/registry/gitCommit.ts';
import {
  getModelVersion,
  listModelVersions,
  type ModelVersionLineage,
  parseModelReference,
  registerModelVersion,
  resolveModelVersion,
} from '../../src/registry/versions.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment } from '../helpers/stores.ts';

const lineage: ModelVersionLineage = {
  pipeline: 'flights-delay',
  dataset: 'flights',
  partitions: [
    { date: '2001-01-01', files: [{ name: 'part-0.parquet', sha256: 'ab'.repeat(32), rows: 10 }] },
  ],
  seed: 7,
  backend: 'wasm',
  gitCommit: 'abc123',
  settings: { epochs: 2 },
};

describe.each(storeKinds())('model versions on the $kind store', ({ kind, skip }) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    if (!skip) env = await openTestEnvironment(kind);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const register = (
    model: string,
    writeArtifact?: (version: number) => Promise<{ dir: string; manifestSha256: string }>,
  ) =>
    registerModelVersion(env.store, {
      model,
      pipeline: 'flights-delay',
      metrics: { auc: 0.7, precision: Number.NaN },
      lineage,
      trainingCurves: [{ epoch: 1, loss: 0.5 }],
      home: env.config.home,
      writeArtifact:
        writeArtifact ??
        (async (version) => ({
          dir: path.join(env.config.home, 'artifacts', model, String(version)),
          manifestSha256: `sum-${version}`,
        })),
    });

  it.skipIf(skip)('numbers versions 1, 2, 3 per model as candidates with metrics and lineage', async () => {
    expect((await register('numbered')).version).toBe(1);
    expect((await register('numbered')).version).toBe(2);
    expect((await register('other')).version).toBe(1);
    const third = await register('numbered');
    expect(third).toMatchObject({
      model: 'numbered',
      version: 3,
      status: 'candidate',
      artifactPath: path.join('artifacts', 'numbered', '3'),
      artifactSha256: 'sum-3',
      // NaN is not JSON: stored as null.
      metrics: { auc: 0.7, precision: null },
      lineage,
      trainingCurves: [{ epoch: 1, loss: 0.5 }],
    });
    expect((await listModelVersions(env.store, 'numbered')).map((v) => v.version)).toEqual([3, 2, 1]);
    expect((await getModelVersion(env.store, 'numbered', 2))?.artifactSha256).toBe('sum-2');
    expect((await resolveModelVersion(env.store, 'numbered@latest')).version).toBe(3);
    await expect(resolveModelVersion(env.store, 'numbered@9')).rejects.toThrow(
      /numbered@9: expected a registered version/,
    );
  });

  it.skipIf(skip)('gives concurrent registrations distinct consecutive numbers', async () => {
    const versions = await Promise.all(Array.from({ length: 5 }, () => register('concurrent')));
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it.skipIf(skip)('registers nothing when writing the artifact fails, and reuses the number', async () => {
    await register('failing');
    await expect(
      register('failing', async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect((await register('failing')).version).toBe(2);
  });
});

describe('model references and lineage helpers', () => {
  it('parses name@version and name@latest, refusing anything else', () => {
    expect(parseModelReference('flights-delay@3')).toEqual({ model: 'flights-delay', version: 3 });
    expect(parseModelReference('flights-delay@latest')).toEqual({
      model: 'flights-delay',
      version: 'latest',
    });
    expect(() => parseModelReference('flights-delay')).toThrow(/expected <name>@<version>/);
  });

  it('reads the git commit of the checkout', async () => {
    expect(await currentGitCommit()).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRuns, listTaskAttempts, listTaskInstances } from '../../src/dag/index.ts';
import { openStore } from '../../src/store/index.ts';
import { repoRoot, runCli, spawnCli } from '../helpers/child.ts';
import { createTestDatabase, seedEmbeddedHome, storeKinds, tempDagsDir, tempDir } from '../helpers/stores.ts';

/**
 * A DAG whose middle task blocks on its first attempt. Every execution appends a line to
 * `ledger`, so the test can count executions across processes.
 */
function writeKillableDag(dir: string, ledger: string): void {
  fs.writeFileSync(
    path.join(dir, 'killable.ts'),
    `import fs from 'node:fs';
import { defineDag } from ${JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'))};
const ledger = ${JSON.stringify(ledger)};
export default defineDag({
  id: 'killable',
  description: 'blocks on the first attempt of its middle task',
  tasks: [
    { id: 'first', run: () => { fs.appendFileSync(ledger, 'first\\n'); return { ok: true }; } },
    {
      id: 'blocker',
      deps: ['first'],
      retries: 0,
      run: ({ attempt }) => {
        fs.appendFileSync(ledger, 'blocker ' + attempt + '\\n');
        if (attempt === 1) return new Promise(() => {}); // killed here
        return { attempt };
      },
    },
    { id: 'after', deps: ['blocker'], run: () => { fs.appendFileSync(ledger, 'after\\n'); } },
  ],
});
`,
  );
}

async function waitForFile(file: string, text: string, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(text))) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for '${text}' in ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.each(storeKinds())('resume after kill -9 on the $kind store', ({ kind, skip }) => {
  let env: Record<string, string>;
  let dropDatabase: (() => Promise<void>) | undefined;
  const dagsDir = tempDagsDir();
  const home = tempDir();
  const ledger = path.join(home, 'ledger.txt');
  beforeAll(async () => {
    if (skip) return;
    writeKillableDag(dagsDir, ledger);
    if (kind === 'embedded') {
      await seedEmbeddedHome(home);
      env = { DATABASE_URL: '', NIGHTSHIFT_HOME: home };
    } else {
      const database = await createTestDatabase();
      dropDatabase = database.drop;
      env = { DATABASE_URL: database.url, NIGHTSHIFT_HOME: home };
    }
    Object.assign(env, { NIGHTSHIFT_DAGS: dagsDir, NIGHTSHIFT_LEASE_MS: '1500' });
  });
  afterAll(async () => {
    await dropDatabase?.();
  });

  it.skipIf(skip)(
    'the rerun does not re-execute succeeded tasks and retries the interrupted one after its lease expires',
    async () => {
      const victim = spawnCli(['run', 'killable', '--date', '2001-01-15'], env);
      await waitForFile(ledger, 'blocker 1');
      victim.child.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');

      const started = Date.now();
      const rerun = await runCli(['run', 'killable', '--date', '2001-01-15', '--json'], env);
      expect(rerun.stderr).not.toMatch(/^error/m);
      expect(rerun.code).toBe(0);
      const output = JSON.parse(rerun.stdout) as {
        run: { id: number; state: string };
        tasks: { taskId: string; state: string }[];
      };
      expect(output.run.state).toBe('success');
      // The interrupted attempt's lease had to expire first (1.5 s after its last heartbeat).
      expect(Date.now() - started).toBeGreaterThan(500);
      expect(fs.readFileSync(ledger, 'utf8').trim().split('\n')).toEqual([
        'first',
        'blocker 1',
        'blocker 2',
        'after',
      ]);

      const store = await openStore({ databaseUrl: env.DATABASE_URL || undefined, home }, { serve: false });
      try {
        const runs = await listRuns(store, { dagId: 'killable' });
        expect(runs).toHaveLength(1);
        const attempts = await listTaskAttempts(store, output.run.id);
        expect(attempts.map((attempt) => [attempt.taskId, attempt.attempt, attempt.state])).toEqual([
          ['after', 1, 'success'],
          ['blocker', 1, 'lease_expired'],
          ['blocker', 2, 'success'],
          ['first', 1, 'success'],
        ]);
        const blocker = (await listTaskInstances(store, output.run.id)).find((ti) => ti.taskId === 'blocker');
        // The killed attempt did not use up the task's retries (it has none).
        expect(blocker).toMatchObject({ state: 'success', failures: 0, leaseExpirations: 1, tryNumber: 2 });
      } finally {
        await store.close();
      }
    },
    120_000,
  );
});

// Every log line written while a task (or one of its shards) runs carries the DAG, run, task and
// attempt ids, whichever logger wrote it and whenever that logger was made: the training,
// scoring, data and validation code makes its own loggers and knows nothing of tasks.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/child.ts';
import { openTestEnvironment, storeKinds, type TestEnvironment, tempDagsDir } from '../helpers/stores.ts';

interface LogLine {
  msg: string;
  component?: string;
  dag?: string;
  run?: number;
  task?: string;
  attempt?: number;
  shard?: string;
}

describe.each(storeKinds())('log lines inside a task ($kind store)', ({ kind, skip }) => {
  let env: TestEnvironment;
  let dagsDir: string;
  beforeAll(async () => {
    if (skip) return;
    env = await openTestEnvironment(kind, { serve: true });
    dagsDir = tempDagsDir();
    const src = (file: string) => JSON.stringify(path.join(repoRoot, 'src', file));
    fs.writeFileSync(
      path.join(dagsDir, 'logged.ts'),
      `import { defineDag } from ${src('dag/index.ts')};
import { childLogger } from ${src('log.ts')};
import { initBackend } from ${src('ml/backend.ts')};
// Made when the DAG file loads, long before any task runs.
const early = childLogger({ component: 'early' });
export default defineDag({ id: 'logged', description: '', tasks: [
  { id: 'train', run: async () => { await initBackend('cpu'); early.info('from an early logger'); return 1; } },
  { id: 'score', deps: ['train'],
    run: async (ctx) => ({ parts: await ctx.shards([{ name: 'part-a', spec: 1 }]) }),
    shard: async () => { childLogger({ component: 'data' }).info('inside a shard'); return 2; } },
] });
`,
    );
  });
  afterAll(async () => {
    await env?.cleanup();
    if (dagsDir) fs.rmSync(dagsDir, { recursive: true, force: true });
  });

  it.skipIf(skip)(
    'carry the dag, run, task and attempt ids (and the shard), from any logger',
    async () => {
      const result = await runCli(['run', 'logged', '--date', '2001-01-15'], {
        ...env.env,
        NIGHTSHIFT_DAGS: dagsDir,
        LOG_LEVEL: 'info',
      });
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine);
      const find = (msg: string | RegExp) =>
        lines.find((line) => (typeof msg === 'string' ? line.msg === msg : msg.test(line.msg)));
      const runId = find('task started')?.run;
      expect(runId).toEqual(expect.any(Number));
      expect(find(/^ML backend: cpu/)).toMatchObject({
        component: 'ml',
        dag: 'logged',
        run: runId,
        task: 'train',
        attempt: 1,
      });
      expect(find('from an early logger')).toMatchObject({
        component: 'early',
        dag: 'logged',
        run: runId,
        task: 'train',
        attempt: 1,
      });
      expect(find('inside a shard')).toMatchObject({
        component: 'data',
        dag: 'logged',
        run: runId,
        task: 'score',
        shard: 'part-a',
        attempt: 1,
      });
      // Each key once per line, even where the logger carries some ids itself.
      for (const line of result.stderr.split('\n').filter((text) => text.startsWith('{'))) {
        expect(line.match(/"dag":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
      }
    },
    120_000,
  );
});

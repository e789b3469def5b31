import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/child.ts';
import { createTestDatabase, seedEmbeddedHome, storeKinds, tempDagsDir, tempDir } from '../helpers/stores.ts';

const embedded = (home: string) => ({ DATABASE_URL: '', NIGHTSHIFT_HOME: home });

describe('the nightshift command', () => {
  it('lists the DAGs as a JSON array', async () => {
    const { code, stdout, stderr } = await runCli(['dags', 'list', '--json'], {
      NIGHTSHIFT_DAGS: path.join(repoRoot, 'dags'),
    });
    expect(code, stderr).toBe(0);
    const dags = JSON.parse(stdout) as { id: string; tasks: { id: string }[] }[];
    expect(dags.map((dag) => dag.id)).toContain('example');
    expect(dags.find((dag) => dag.id === 'example')?.tasks.map((task) => task.id)).toEqual([
      'generate',
      'sum',
      'histogram',
      'report',
    ]);
  });

  it('runs the example DAG to success, then shows and lists the run', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const run = await runCli(['run', 'example', '--date', '2001-01-15'], embedded(home));
    expect(run.stderr).not.toMatch(/^error/m);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/run 1 of example for 2001-01-15: success/);

    const [show, list] = await Promise.all([
      runCli(['runs', 'show', '1', '--json'], embedded(home)),
      runCli(['runs', 'list', '--dag', 'example', '--json'], embedded(home)),
    ]);
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout) as {
      run: { state: string; logicalDate: string };
      tasks: { taskId: string; state: string; attempts: number; outputs: Record<string, unknown> }[];
    };
    expect(shown.run).toMatchObject({ state: 'success', logicalDate: '2001-01-15' });
    expect(shown.tasks.map((task) => [task.taskId, task.state, task.attempts]).sort()).toEqual([
      ['generate', 'success', 1],
      ['histogram', 'success', 1],
      ['report', 'success', 1],
      ['sum', 'success', 1],
    ]);
    expect(shown.tasks.find((task) => task.taskId === 'sum')?.outputs).toMatchObject({ count: 1000 });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { id: number }[]).map((r) => r.id)).toEqual([1]);

    const clear = await runCli(['tasks', 'clear', '1', '--task', 'sum', '--downstream'], embedded(home));
    expect(clear.code, clear.stderr).toBe(0);
    expect(clear.stdout).toContain('cleared 2 task(s) of run 1: report, sum');
    const unknownTask = await runCli(['tasks', 'clear', '1', '--task', 'nope'], embedded(home));
    expect(unknownTask.code, unknownTask.stderr).toBe(2);
    expect(unknownTask.stderr.trim()).toBe(
      "error: run 1 of example has no task 'nope'; its tasks: generate, histogram, report, sum",
    );
  }, 120_000);

  it('refuses bad usage with one line on stderr, exit 2, and nothing written', async () => {
    const home = path.join(tempDir(), 'never-created');
    const cases: [string[], string][] = [
      [['run', 'no-such-dag', '--date', '2001-01-15'], "error: unknown DAG 'no-such-dag'"],
      [
        ['run', 'example', '--date', '2001-13-45'],
        "error: invalid date '2001-13-45': expected a calendar date as YYYY-MM-DD",
      ],
      [['run', 'example', '--date', '2001-01-15', '--conf', '{nope'], 'error: invalid --conf:'],
      [
        ['run', 'example', '--date', '2001-01-15', '--conf', '[1]'],
        'error: invalid --conf: expected a JSON object, found an array',
      ],
      [['run', 'example'], "error: required option '--date <YYYY-MM-DD>' not specified"],
      [['runs', 'show', 'abc'], "error: invalid run id 'abc'"],
      [['frobnicate'], "error: unknown command 'frobnicate'"],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, embedded(home))));
    for (const [index, result] of results.entries()) {
      const [args, message] = cases[index] as [string[], string];
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stdout).toBe('');
    }
    expect(fs.existsSync(home)).toBe(false);
  });

  it('names the cycle of a cyclic DAG and still lists the valid ones', async () => {
    const dir = tempDagsDir();
    const defineDag = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));
    fs.writeFileSync(
      path.join(dir, 'loop.ts'),
      `import { defineDag } from ${defineDag};
export default defineDag({ id: 'loop', description: '', tasks: [
  { id: 'train', deps: ['validate'], run: () => 1 },
  { id: 'validate', deps: ['promote'], run: () => 1 },
  { id: 'promote', deps: ['train'], run: () => 1 },
] });\n`,
    );
    fs.writeFileSync(
      path.join(dir, 'fine.ts'),
      `import { defineDag } from ${defineDag};\nexport default defineDag({ id: 'fine', description: '', tasks: [{ id: 'a', run: () => 1 }] });\n`,
    );
    const { code, stdout, stderr } = await runCli(['dags', 'list'], { NIGHTSHIFT_DAGS: dir });
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/loop\.ts: DAG 'loop' has a cycle: (\w+) -> (\w+) -> (\w+) -> \1/);
    expect(stdout).toMatch(/^fine\s/m);
  });
  it('shows the Kafka triggers of a DAG in dags list and dags show', async () => {
    const dir = tempDagsDir();
    const defineDag = JSON.stringify(path.join(repoRoot, 'src/dag/index.ts'));
    fs.writeFileSync(
      path.join(dir, 'announced.ts'),
      `import { defineDag } from ${defineDag};
export default defineDag({ id: 'announced', description: 'runs when a day is announced',
  triggers: [{ kafka: { topic: 'days.ready', dateField: 'day' } }], tasks: [{ id: 'a', run: () => 1 }] });\n`,
    );
    const [list, show, json, unknown] = await Promise.all([
      runCli(['dags', 'list'], { NIGHTSHIFT_DAGS: dir }),
      runCli(['dags', 'show', 'announced'], { NIGHTSHIFT_DAGS: dir }),
      runCli(['dags', 'show', 'announced', '--json'], { NIGHTSHIFT_DAGS: dir }),
      runCli(['dags', 'show', 'nope'], { NIGHTSHIFT_DAGS: dir }),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+SCHEDULE\s+TRIGGERS\s+TASKS\s+DESCRIPTION$/m);
    expect(list.stdout).toMatch(/^announced\s+\(manual\)\s+kafka:days\.ready \(day\)\s+1\s+runs when/m);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^triggers:\s+kafka:days\.ready \(day\)$/m);
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: 'announced',
      triggers: [{ kafka: { topic: 'days.ready', dateField: 'day' } }],
    });
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toMatch(/unknown DAG 'nope'/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe.each(storeKinds())('out-of-range ids and bad model references ($kind store)', ({ kind, skip }) => {
  it.skipIf(skip)(
    'are bad usage (exit 2, one line) checked before the store is opened or created',
    async () => {
      let env: Record<string, string>;
      let written: () => Promise<boolean>;
      let drop = async () => {};
      if (kind === 'embedded') {
        const home = path.join(tempDir(), 'never-created');
        env = embedded(home);
        written = async () => fs.existsSync(home);
      } else {
        const database = await createTestDatabase();
        drop = database.drop;
        env = { DATABASE_URL: database.url, NIGHTSHIFT_HOME: tempDir() };
        written = async () => {
          const client = new pg.Client({ connectionString: database.url });
          await client.connect();
          try {
            const { rows } = await client.query(
              `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`,
            );
            return rows[0].n > 0;
          } finally {
            await client.end();
          }
        };
      }
      try {
        const cases: [string[], string][] = [
          [
            ['runs', 'show', '2147483648'],
            "error: invalid run id '2147483648': expected a positive integer up to 2147483647",
          ],
          [['tasks', 'clear', '99999999999'], "error: invalid run id '99999999999'"],
          [['models', 'show', 'no-at-sign'], "error: invalid model reference 'no-at-sign'"],
          [
            ['models', 'show', 'm@3000000000'],
            "error: invalid model reference 'm@3000000000': the version must be from 1 to 2147483647",
          ],
          [['models', 'promote', 'm', '3000000000', '--reason', 'r'], "error: invalid version '3000000000'"],
          [
            ['models', 'rollback', 'm', '--to', '3000000000', '--reason', 'r'],
            "error: invalid version '3000000000'",
          ],
          [
            ['runs', 'list', '--limit', '99999999999999999999'],
            "error: invalid --limit '99999999999999999999'",
          ],
          [
            ['score', 'flights-delay', '--model', 'flights-delay@0', '--input', 'x', '--output', 'y'],
            "error: invalid model reference 'flights-delay@0'",
          ],
        ];
        const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
        for (const [index, result] of results.entries()) {
          const [args, message] = cases[index] as [string[], string];
          expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
          expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
          expect(result.stderr, args.join(' ')).toContain(message);
          expect(result.stdout, args.join(' ')).toBe('');
        }
        expect(await written()).toBe(false);
      } finally {
        await drop();
      }
    },
    // Eight CLI processes at once: about 45 s on a loaded 2-core machine.
    180_000,
  );
});

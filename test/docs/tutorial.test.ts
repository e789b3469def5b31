// Runs docs/tutorial.md as a new user would: every file it shows is written where it says, every
// command it shows is run in order, in a fresh project folder on the embedded store. Then the
// outcomes the tutorial promises are checked: the data is imported, three nights run, and the
// pipeline has a champion that a blessing promoted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/child.ts';
import { fencedBlocks, shellCommands, shellWords } from '../helpers/markdown.ts';
import { tempDir } from '../helpers/stores.ts';

const tutorial = fs.readFileSync(path.join(repoRoot, 'docs', 'tutorial.md'), 'utf8');
const binPath = path.join(repoRoot, 'bin', 'nightshift.js');

interface CommandResult {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

function runIn(cwd: string, args: readonly string[], env: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ command: `nightshift ${args.join(' ')}`, code, stdout, stderr }));
  });
}

/** A user's project folder: the checkout's sources and packages, nothing of its pipelines or DAGs. */
function freshProject(): string {
  const dir = tempDir('nightshift-tutorial-');
  fs.symlinkSync(path.join(repoRoot, 'src'), path.join(dir, 'src'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  return dir;
}

describe('docs/tutorial.md', () => {
  it('has files and commands to run', () => {
    const blocks = fencedBlocks(tutorial);
    expect(blocks.filter((block) => block.file).map((block) => block.file)).toEqual([
      'pipelines/wet-days/features.ts',
      'pipelines/wet-days/model.ts',
      'pipelines/wet-days/validation.ts',
      'dags/wet-days.ts',
    ]);
    const commands = blocks
      .filter((block) => block.language === 'sh')
      .flatMap((block) => shellCommands(block.body));
    expect(commands.every((command) => command.startsWith('npx nightshift '))).toBe(true);
    expect(commands.length).toBeGreaterThanOrEqual(6);
  });

  it('takes a new user from a CSV file to a nightly DAG that promotes', { timeout: 600_000 }, async () => {
    const project = freshProject();
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      NIGHTSHIFT_LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
    };
    // The tutorial runs on the embedded default, in the project's own data folder.
    delete env.DATABASE_URL;
    delete env.NIGHTSHIFT_HOME;
    delete env.NIGHTSHIFT_DATA;
    delete env.NIGHTSHIFT_DAGS;
    const results: CommandResult[] = [];
    for (const block of fencedBlocks(tutorial)) {
      if (block.file) {
        const target = path.join(project, block.file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, block.body);
        continue;
      }
      if (block.language !== 'sh') continue;
      for (const command of shellCommands(block.body)) {
        const args = shellWords(command).slice(2); // drop `npx nightshift`
        const result = await runIn(project, args, env);
        expect(result.code, `${command}\n${result.stderr}\n${result.stdout}`).toBe(0);
        results.push(result);
      }
    }

    // The import wrote one partition a day, 2012-01-01 to 2015-12-31, and recorded the contract.
    const days = fs
      .readdirSync(path.join(project, 'data', 'weather'))
      .filter((name) => name.startsWith('date='));
    expect(days.length).toBe(1461);
    const contract = JSON.parse(
      fs.readFileSync(path.join(project, 'data', 'weather', '_dataset.json'), 'utf8'),
    );
    expect(contract).toMatchObject({ idColumn: 'location', eventTimeColumn: 'date' });

    // Three nights ran, and the pipeline has a champion that a passed blessing made.
    const runs = results.filter((result) => result.command.startsWith('nightshift run '));
    expect(runs).toHaveLength(3);
    const history = await runIn(project, ['models', 'history', 'wet-days', '--json'], env);
    expect(history.code, history.stderr).toBe(0);
    const moves = JSON.parse(history.stdout) as {
      alias: string;
      action: string;
      toVersion: number | null;
      forced: boolean;
      blessingId: number | null;
    }[];
    const promotions = moves.filter((move) => move.alias === 'champion' && move.toVersion !== null);
    expect(promotions.length).toBeGreaterThanOrEqual(1);
    expect(promotions.every((move) => !move.forced && move.blessingId !== null)).toBe(true);
    const champion = await runIn(project, ['models', 'show', 'wet-days@champion', '--json'], env);
    expect(champion.code, champion.stderr).toBe(0);
    const shown = JSON.parse(champion.stdout) as { version: number; blessing?: { passed: boolean } };
    expect(shown.version).toBe(promotions.at(-1)?.toVersion);
  });
});

// Runs `nightshift <args>` with the scheduling commands registered, as the real CLI will once
// they are wired into src/cli/program.ts (until then the tests start this file). Usage errors
// exit 2 with one line, as in src/cli/program.ts.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CommanderError } from 'commander';
import { registerBackfillCommand } from '../../src/cli/commands/backfill.ts';
import { registerSchedulerCommand } from '../../src/cli/commands/scheduler.ts';
import { registerServeCommand } from '../../src/cli/commands/serve.ts';
import { registerTriggerCommand } from '../../src/cli/commands/trigger.ts';
import { buildProgram } from '../../src/cli/program.ts';
import { DagValidationError, NightshiftError, UsageError } from '../../src/errors.ts';
import { repoRoot, type Spawned } from '../helpers/child.ts';

const harnessFile = path.join(repoRoot, 'test', 'scheduler', 'cliHarness.ts');

/** Spawns the harness as a child process (`node --import tsx cliHarness.ts <args>`). */
export function spawnSchedulingCli(args: readonly string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', harnessFile, ...args], {
    cwd: repoRoot,
    env: { ...process.env, NIGHTSHIFT_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk) => (out += chunk));
  child.stderr?.on('data', (chunk) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (out.includes(text)) return resolve();
          if (child.exitCode !== null || child.signalCode !== null)
            return reject(new Error(`child exited before printing '${text}': ${err || out}`));
          if (Date.now() - started > timeoutMs)
            return reject(new Error(`timed out waiting for '${text}': ${err}`));
          setTimeout(check, 20);
        };
        check();
      });
    },
  };
}

export async function runSchedulingCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const spawned = spawnSchedulingCli(args, env);
  const { code } = await spawned.exited;
  return { code, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

async function harnessMain(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const registered = new Set(program.commands.map((command) => command.name()));
  if (!registered.has('scheduler')) registerSchedulerCommand(program);
  if (!registered.has('backfill')) registerBackfillCommand(program);
  if (!registered.has('trigger')) registerTriggerCommand(program);
  if (!registered.has('serve')) registerServeCommand(program);
  const overrideExits = (command: typeof program): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExits(sub);
  };
  overrideExits(program);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError || error instanceof DagValidationError) return 2;
    return error instanceof NightshiftError ? 1 : 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === harnessFile) {
  const code = await harnessMain(process.argv.slice(2));
  process.exit(code);
}

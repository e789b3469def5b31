// Child processes for tests that need a second real process: a holder of the embedded store,
// a CLI invocation, a run killed with SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const binPath = path.join(repoRoot, 'bin', 'nightshift.js');

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text`; rejects if the child exits first or after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function track(child: ChildProcess): Spawned {
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
          if (child.exitCode !== null || child.signalCode !== null) {
            return reject(new Error(`child exited before printing '${text}': ${err || out}`));
          }
          if (Date.now() - started > timeoutMs)
            return reject(new Error(`timed out waiting for '${text}': ${err || out}`));
          setTimeout(check, 20);
        };
        check();
      });
    },
  };
}

/** Runs an ES module script (TypeScript imports allowed) in a child Node process. */
export function spawnScript(script: string, env: Record<string, string> = {}): Spawned {
  return track(
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** Runs `nightshift <args>` as a user would. */
export function spawnCli(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): Spawned {
  return track(
    spawn(process.execPath, [binPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, NIGHTSHIFT_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** `options.cwd`: where the command runs (its `pipelines/` folder is found there). */
export async function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const spawned = spawnCli(args, env, options);
  const { code } = await spawned.exited;
  return { code, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

export function importPath(relative: string): string {
  return JSON.stringify(path.join(repoRoot, relative));
}

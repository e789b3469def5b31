import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerDataCommands } from '../../src/cli/commands/data.ts';
import { UsageError } from '../../src/errors.ts';
import { tempDir } from './helpers.ts';

function program(): Command {
  const root = new Command('nightshift').option('--data <dir>').option('--home <dir>').exitOverride();
  registerDataCommands(root);
  return root;
}

async function run(args: string[]): Promise<string> {
  const writes: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  });
  try {
    await program().parseAsync(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return writes.join('');
}

describe('nightshift data prepare flights', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints the partitions written, then unchanged on a rerun', async () => {
    const dir = await tempDir('cli');
    const args = ['--data', dir, 'data', 'prepare', 'flights', '--from', '2001-01-05', '--to', '2001-01-06'];
    expect(await run(args)).toBe(
      `flights 2001-01-05..2001-01-06: 2 partitions written, 0 unchanged, 31,463 rows in ${path.join(dir, 'flights')}\n`,
    );
    expect(await run(args)).toContain('0 partitions written, 2 unchanged, 31,463 rows');
  });

  it('refuses a bad date with one clear line', async () => {
    const attempt = run(['data', 'prepare', 'flights', '--from', '2001-02-30']);
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(attempt).rejects.toThrow("--from: expected a date as YYYY-MM-DD, got '2001-02-30'");
  });

  it('says when the window holds no flights', async () => {
    const dir = await tempDir('cli-empty');
    await expect(run(['--data', dir, 'data', 'prepare', 'flights', '--from', '2002-01-01'])).rejects.toThrow(
      'no flights between 2002-01-01 and the end: the source covers 2001-01-01 to 2001-07-01',
    );
  });
});

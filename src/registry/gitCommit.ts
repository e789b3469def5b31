import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** The checked-out commit (with `-dirty` when the tree has changes), or null outside a git checkout. */
export async function currentGitCommit(cwd = process.cwd()): Promise<string | null> {
  const run = promisify(execFile);
  try {
    const { stdout: head } = await run('git', ['rev-parse', 'HEAD'], { cwd });
    const { stdout: status } = await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd });
    return `${head.trim()}${status.trim() === '' ? '' : '-dirty'}`;
  } catch {
    return null;
  }
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processStart, readLock, tryAcquireLock } from '../../src/store/lock.ts';
import { tempDir } from '../helpers/stores.ts';

describe('the embedded store lock file', () => {
  it('takes the lock atomically: a second taker in the same process is refused', () => {
    const lockPath = path.join(tempDir(), 'pglite.lock');
    const first = tryAcquireLock(lockPath);
    expect(first.lock).toBeDefined();
    expect(readLock(lockPath)).toMatchObject({
      pid: process.pid,
      hostname: os.hostname(),
      processStart: processStart(process.pid),
    });
    expect(() => tryAcquireLock(lockPath)).toThrowError(/already open in this process/);
    first.lock?.release();
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('takes over a lock whose pid was reused by another process (a container restart)', () => {
    const lockPath = path.join(tempDir(), 'pglite.lock');
    fs.writeFileSync(
      lockPath,
      JSON.stringify({
        pid: process.pid,
        hostname: os.hostname(),
        processStart: 'another-boot:1',
        command: 'old',
        startedAt: '2001-01-01T00:00:00Z',
      }),
    );
    const taken = tryAcquireLock(lockPath);
    expect(taken.lock?.info.processStart).toBe(processStart(process.pid));
    taken.lock?.release();
  });

  it('removes an empty lock left by a process that died while writing it', () => {
    const lockPath = path.join(tempDir(), 'pglite.lock');
    fs.writeFileSync(lockPath, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockPath, old, old);
    const taken = tryAcquireLock(lockPath);
    expect(taken.lock).toBeDefined();
    taken.lock?.release();
  });

  it('reports a live holder instead of taking its lock', () => {
    const lockPath = path.join(tempDir(), 'pglite.lock');
    const parent = process.ppid; // alive, and not this process
    fs.writeFileSync(
      lockPath,
      JSON.stringify({
        pid: parent,
        hostname: os.hostname(),
        processStart: processStart(parent),
        command: 'holder',
        startedAt: '2001-01-01T00:00:00Z',
      }),
    );
    const attempt = tryAcquireLock(lockPath);
    expect(attempt.lock).toBeUndefined();
    expect(attempt.heldBy?.pid).toBe(parent);
  });
});

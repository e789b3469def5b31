import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreLockedError } from '../errors.ts';

/**
 * The embedded store's folder lock. PGlite serves one process: seen with 0.5.16, two processes
 * writing one data folder corrupt it for good, while one process killed with `kill -9` recovers
 * every committed row. So the process that opens the folder holds this lock for as long as it
 * is open; a stale lock (its pid is dead) is taken over.
 *
 * The lock file is created with O_EXCL, which is atomic on local file systems. Taking over a
 * stale lock is serialised by a `mkdir` of a sibling folder (also atomic), so two processes that
 * find the same stale lock cannot both take it.
 */
export interface LockInfo {
  pid: number;
  hostname: string;
  /**
   * Boot id and start time of the holder process (Linux), so that a pid reused after a restart
   * (pid 1 in a container with a fixed hostname) is not taken for the holder.
   */
  processStart?: string;
  command: string;
  startedAt: string;
  /**
   * Where the holder serves the store over the Postgres wire protocol, once it does, and the
   * password its clients give (the lock file is readable by its owner only).
   */
  socket?: { host: string; port: number; password?: string };
}

export interface HeldLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Rewrites the lock's content atomically (for example to add the socket address). */
  update(info: Partial<LockInfo>): void;
  release(): void;
}

export function readLock(lockPath: string): LockInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as LockInfo;
    if (typeof parsed.pid !== 'number') return undefined;
    return parsed;
  } catch {
    // A lock file being written right now, or garbage: treated as unreadable (not stale).
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `<boot id>:<start time in clock ticks>` of a process, where /proc tells it. */
export function processStart(pid: number): string | undefined {
  try {
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTime = fields[19];
    return startTime ? `${bootId}:${startTime}` : undefined;
  } catch {
    return undefined;
  }
}

/** True when the lock's holder is known to be gone: same host, and its pid is dead or reused. */
export function isStale(info: LockInfo): boolean {
  if (info.hostname !== os.hostname()) return false;
  if (!isProcessAlive(info.pid)) return true;
  return info.processStart !== undefined && processStart(info.pid) !== info.processStart;
}

export function describeHolder(info: LockInfo): string {
  return `pid ${info.pid} on ${info.hostname} (${info.command}), since ${info.startedAt}`;
}

function currentCommand(): string {
  return process.argv
    .slice(1)
    .map((arg) => path.basename(arg))
    .join(' ')
    .slice(0, 200);
}

function writeExclusive(lockPath: string, info: LockInfo): boolean {
  try {
    // Owner only: it holds the socket's password once the store is served.
    const fd = fs.openSync(lockPath, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(info));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function takeOverStale(lockPath: string, stale: LockInfo): boolean {
  const guard = `${lockPath}.takeover`;
  try {
    fs.mkdirSync(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process is taking over right now; a guard left by a process that died in these
    // few lines is removed after ten seconds.
    if (lockAgeMs(guard) > 10_000) fs.rmSync(guard, { recursive: true, force: true });
    return false;
  }
  try {
    const current = readLock(lockPath);
    if (current && current.pid === stale.pid && current.startedAt === stale.startedAt) {
      fs.rmSync(lockPath, { force: true });
    }
    return true;
  } finally {
    fs.rmSync(guard, { recursive: true, force: true });
  }
}

export interface AcquireResult {
  lock?: HeldLock;
  /** Set when another live process holds the lock. */
  heldBy?: LockInfo;
}

/** Tries to take the lock; returns the holder instead when a live process has it. */
export function tryAcquireLock(lockPath: string): AcquireResult {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const info: LockInfo = {
    pid: process.pid,
    hostname: os.hostname(),
    processStart: processStart(process.pid),
    command: currentCommand(),
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 50; attempt++) {
    if (writeExclusive(lockPath, info)) return { lock: heldLock(lockPath, info) };
    const holder = readLock(lockPath);
    if (holder === undefined) {
      // Being written by its creator: wait a moment and look again. One left empty or partial
      // by a process that died between creating and writing it is removed after 5 s.
      if (lockAgeMs(lockPath) > 5_000) fs.rmSync(lockPath, { force: true });
      else sleepSync(20);
      continue;
    }
    if (holder.pid === process.pid && holder.hostname === info.hostname && !isStale(holder)) {
      throw new StoreLockedError(
        `the embedded store at ${path.dirname(lockPath)} is already open in this process; share one store object`,
      );
    }
    if (!isStale(holder)) return { heldBy: holder };
    takeOverStale(lockPath, holder);
  }
  throw new StoreLockedError(
    `could not take the lock ${lockPath}: it kept changing hands or stayed unreadable; if no Nightshift process uses this folder, delete the file`,
  );
}

function heldLock(lockPath: string, initial: LockInfo): HeldLock {
  let info = initial;
  let released = false;
  return {
    path: lockPath,
    get info() {
      return info;
    },
    update(patch: Partial<LockInfo>) {
      info = { ...info, ...patch };
      const temporary = `${lockPath}.${process.pid}.tmp`;
      fs.rmSync(temporary, { force: true });
      fs.writeFileSync(temporary, JSON.stringify(info), { mode: 0o600, flag: 'wx' });
      fs.renameSync(temporary, lockPath);
    },
    release() {
      if (released) return;
      released = true;
      const current = readLock(lockPath);
      if (current && current.pid === info.pid && current.startedAt === info.startedAt) {
        fs.rmSync(lockPath, { force: true });
      }
    },
  } satisfies HeldLock;
}

/** Milliseconds since a file was last modified; 0 when it is already gone. */
function lockAgeMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

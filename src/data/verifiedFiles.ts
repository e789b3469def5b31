import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ChecksumError, DataError } from '../errors.ts';

/**
 * The sha256 check every read of a partition file goes through before its bytes feed a model,
 * a score or a lineage, with a small cache of the files this process has verified.
 *
 * Why the cache is safe: an entry records the file's device, inode, size, mtime and ctime as
 * they were before it was hashed (and unchanged after), plus the sum it matched. Writing to the
 * file (or replacing it, renaming another over it, truncating it) changes the inode or the
 * mtime and ctime; `touch` can set the mtime back but the kernel sets ctime to now on every
 * change, and no user call sets it back. So a hit means the bytes were not changed through the
 * file system since they were hashed. What a hit does not catch is the medium itself flipping
 * a bit under an unchanged inode within the life of this process, which the check made just
 * before the read would not catch either (DuckDB reads the file after it); the cache lives in
 * memory only, so every new process (each `train`, `score`, task, worker thread) hashes anew.
 */

interface VerifiedEntry {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  sha256: string;
}

/** Enough for a year of daily partitions read by one process; the oldest entry goes first. */
const MAX_ENTRIES = 4096;
const verified = new Map<string, VerifiedEntry>();
let hashedBytes = 0;

/** Bytes this process has hashed to verify files (for tests and benches: hits cost none). */
export function verifiedBytesHashed(): number {
  return hashedBytes;
}

/** Forgets every verified file (tests). */
export function clearVerifiedFiles(): void {
  verified.clear();
}

/**
 * Resolves when `file` has `expected.bytes` bytes whose sha256 is `expected.sha256`; throws
 * DataError when it is missing or has another size, ChecksumError (never retriable) naming the
 * file and both sums when its bytes differ.
 */
export async function verifyFileSha256(
  file: string,
  expected: { bytes: number; sha256: string },
  listedIn: string,
): Promise<void> {
  const before = await statOrExplain(file, listedIn);
  if (before.size !== expected.bytes) {
    throw new DataError(
      `${file}: expected ${expected.bytes} bytes as recorded in ${listedIn}, found ${before.size}`,
    );
  }
  const cached = verified.get(file);
  if (cached !== undefined && cached.sha256 === expected.sha256 && sameFile(cached, before)) return;
  const found = await sha256Of(file);
  if (found !== expected.sha256) {
    verified.delete(file);
    throw new ChecksumError(file, expected.sha256, found);
  }
  // Changed while it was hashed: verified, but not cached, so the next read hashes again.
  const after = await stat(file);
  if (!sameFile(entryOf(before, found), after)) return;
  verified.delete(file);
  verified.set(file, entryOf(before, found));
  if (verified.size > MAX_ENTRIES) verified.delete(verified.keys().next().value as string);
}

async function statOrExplain(file: string, listedIn: string): Promise<Stats> {
  try {
    return await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DataError(`${file}: listed in ${listedIn} but missing`, { cause: error });
    }
    throw error;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const block of createReadStream(file)) {
    hash.update(block as Buffer);
    hashedBytes += (block as Buffer).byteLength;
  }
  return hash.digest('hex');
}

function entryOf(info: Stats, sha256: string): VerifiedEntry {
  return {
    dev: info.dev,
    ino: info.ino,
    size: info.size,
    mtimeMs: info.mtimeMs,
    ctimeMs: info.ctimeMs,
    sha256,
  };
}

function sameFile(entry: VerifiedEntry, info: Stats): boolean {
  return (
    entry.dev === info.dev &&
    entry.ino === info.ino &&
    entry.size === info.size &&
    entry.mtimeMs === info.mtimeMs &&
    entry.ctimeMs === info.ctimeMs
  );
}

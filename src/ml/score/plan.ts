import { UsageError } from '../../errors.ts';

/**
 * Shard plans: pure and deterministic, so a rerun cuts the same shards with the same names and
 * can recognise the ones already done.
 */

export interface RowShard {
  index: number;
  name: string;
  /** Rows [from, to) of an in-memory batch. */
  from: number;
  to: number;
}

export function shardName(index: number): string {
  return `shard-${String(index).padStart(5, '0')}`;
}

/** Splits n rows into consecutive shards of at most `shardRows` (the last one may be smaller). */
export function planRowShards(rowCount: number, shardRows: number): RowShard[] {
  if (!Number.isInteger(shardRows) || shardRows < 1) {
    throw new UsageError(`shard rows: expected a positive integer, found ${shardRows}`);
  }
  const shards: RowShard[] = [];
  for (let from = 0, index = 0; from < rowCount; from += shardRows, index++) {
    shards.push({ index, name: shardName(index), from, to: Math.min(rowCount, from + shardRows) });
  }
  return shards;
}

/** One input Parquet file, as a partition manifest lists it. */
export interface InputFile {
  date: string;
  /** Absolute path. */
  file: string;
  rows: number;
  sha256: string;
}

export interface FileShard {
  index: number;
  name: string;
  files: InputFile[];
  rows: number;
}

/**
 * Groups input files, in (date, path) order, into shards of about `targetRows` rows: a file is
 * never split, and a shard closes once it reaches the target. Small daily files (about 16k
 * flights) are grouped because each shard costs a DuckDB query and a file write.
 */
export function planFileShards(files: readonly InputFile[], targetRows: number): FileShard[] {
  if (!Number.isInteger(targetRows) || targetRows < 1) {
    throw new UsageError(`shard rows: expected a positive integer, found ${targetRows}`);
  }
  const ordered = [...files].sort((a, b) =>
    a.date === b.date ? (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) : a.date < b.date ? -1 : 1,
  );
  const shards: FileShard[] = [];
  let current: InputFile[] = [];
  let rows = 0;
  const close = () => {
    if (current.length === 0) return;
    shards.push({ index: shards.length, name: shardName(shards.length), files: current, rows });
    current = [];
    rows = 0;
  };
  for (const file of ordered) {
    if (file.rows === 0) continue;
    current.push(file);
    rows += file.rows;
    if (rows >= targetRows) close();
  }
  close();
  return shards;
}

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
  /**
   * Row counts of the file's row groups, in order, from its footer. Absent (or not adding up to
   * `rows`): the file is cut only as a whole.
   */
  rowGroups?: readonly number[] | undefined;
}

/** Rows [from, to) of one input file, on row-group boundaries. */
export interface ShardPiece {
  date: string;
  file: string;
  sha256: string;
  /** Rows of the whole file: a piece with from 0 and to fileRows is the whole file. */
  fileRows: number;
  from: number;
  to: number;
}

export interface FileShard {
  index: number;
  name: string;
  /** In (date, path, row) order; one piece per file. */
  pieces: ShardPiece[];
  rows: number;
}

export interface ShardPlanOptions {
  /** About this many rows per shard. */
  shardRows: number;
  /** Cut at least this many shards when the inputs have enough row groups: one per worker. */
  workers: number;
}

/**
 * Cuts input files, in (date, path) order, into shards of whole row groups: about `shardRows`
 * rows each (small daily files are grouped, since each shard costs a DuckDB query and a file
 * write), a multiple of the worker count, and at least one shard per worker when there are
 * enough row groups, so that one day can be scored by two workers. Each row group goes to the shard that its middle row falls in
 * when the rows are split evenly: shards differ by at most about one row group. Pure and
 * deterministic: the same files, row groups and options give the same shards and names, which
 * is how a rerun (with the same options) recognises the shards already done.
 */
export function planShards(files: readonly InputFile[], options: ShardPlanOptions): FileShard[] {
  for (const [name, value] of [
    ['shard rows', options.shardRows],
    ['workers', options.workers],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UsageError(`${name}: expected a positive integer, found ${value}`);
    }
  }
  const ordered = [...files]
    .filter((file) => file.rows > 0)
    .sort((a, b) =>
      a.date === b.date ? (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) : a.date < b.date ? -1 : 1,
    );
  const units: { file: InputFile; from: number; to: number }[] = [];
  for (const file of ordered) {
    const groups = file.rowGroups;
    const usable =
      groups !== undefined && groups.length > 0 && groups.reduce((sum, rows) => sum + rows, 0) === file.rows;
    if (!usable) {
      units.push({ file, from: 0, to: file.rows });
      continue;
    }
    let from = 0;
    for (const rows of groups) {
      if (rows > 0) units.push({ file, from, to: from + rows });
      from += rows;
    }
  }
  const total = units.reduce((sum, unit) => sum + (unit.to - unit.from), 0);
  if (total === 0) return [];
  // A multiple of the worker count when there are more shards than workers, so that the
  // workers finish together instead of one scoring the last shard alone.
  const bySize = Math.ceil(total / options.shardRows);
  const count = Math.max(
    Math.ceil(bySize / options.workers) * options.workers,
    Math.min(options.workers, units.length),
  );
  // Units come in order, so their shard numbers never decrease: a new number opens a shard.
  const groups: ShardPiece[][] = [];
  let current = -1;
  let before = 0;
  for (const unit of units) {
    const rows = unit.to - unit.from;
    const middle = before + rows / 2;
    before += rows;
    const index = Math.min(count - 1, Math.floor((middle * count) / total));
    if (index !== current) {
      groups.push([]);
      current = index;
    }
    const pieces = groups.at(-1) as ShardPiece[];
    const last = pieces.at(-1);
    if (last !== undefined && last.file === unit.file.file && last.to === unit.from) {
      last.to = unit.to;
      continue;
    }
    const { date, file, sha256, rows: fileRows } = unit.file;
    pieces.push({ date, file, sha256, fileRows, from: unit.from, to: unit.to });
  }
  return groups.map((pieces, index) => ({
    index,
    name: shardName(index),
    pieces,
    rows: pieces.reduce((sum, piece) => sum + piece.to - piece.from, 0),
  }));
}

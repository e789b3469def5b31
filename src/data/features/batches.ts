import type { DuckDBDataChunk, DuckDBResult } from '@duckdb/node-api';
import { DataError } from '../../errors.ts';
import { type DuckSession, prefetchedChunks, TypedColumns } from '../duckdb.ts';
import { blameFile, readEveryColumn, unreadableFile } from './blame.ts';
import type { FeatureBatch } from './extract.ts';
import { expandRows, type VectorLayout } from './vector.ts';

/** Where the reader finds the id and the first value (see `resultColumns`). */
const ID_COLUMN = 0;
const FIRST_VALUE = 1;

/** The extraction query's select list, in the order `readBatches` takes its columns. */
export function resultColumns(id: string, values: readonly string[], sources: readonly string[]): string[] {
  return [id, ...values, ...sources];
}

/**
 * What the extraction query returns: the id, the DuckDB-computed values (the features', then
 * the label and slice codes when present), then the layout's source columns.
 */
export interface Plan {
  sql: string;
  featureCount: number;
  /** The SQL vector and how JS fills the slots from it and from the sources. */
  layout: VectorLayout;
  withLabels: boolean;
  idIsInteger: boolean;
  sliceValues: Map<string, string[]>;
}

/** Fills typed arrays from DuckDB chunks, 2,048 rows at a time. */
class BatchBuilder {
  rowCount = 0;
  readonly ids: BigInt64Array | string[];
  readonly features: Float32Array;
  readonly labels: Float32Array | undefined;
  readonly sliceCodes: Int32Array[];

  constructor(
    readonly plan: Plan,
    readonly columns: TypedColumns,
    readonly capacity: number,
  ) {
    this.ids = plan.idIsInteger ? new BigInt64Array(capacity) : new Array<string>(capacity);
    this.features = new Float32Array(capacity * plan.featureCount);
    this.labels = plan.withLabels ? new Float32Array(capacity) : undefined;
    this.sliceCodes = [...plan.sliceValues.keys()].map(() => new Int32Array(capacity));
  }

  /** Copies rows [from, from + count) of the chunk; returns how many fitted. */
  append(chunk: DuckDBDataChunk, from: number, count: number): number {
    const take = Math.min(count, this.capacity - this.rowCount);
    const at = this.rowCount;
    const { layout } = this.plan;
    const columns = this.columns;
    const values = layout.sqlColumns.map((_, index) =>
      columns.floats(chunk, FIRST_VALUE + index).subarray(from, from + take),
    );
    const firstSource = FIRST_VALUE + values.length;
    const sources = layout.sources.map((_, index) =>
      columns.doubles(chunk, firstSource + index).subarray(from, from + take),
    );
    expandRows(layout, values, sources, take, this.features, at);
    if (this.ids instanceof BigInt64Array) {
      this.ids.set(columns.bigints(chunk, ID_COLUMN).subarray(from, from + take), at);
    } else {
      const vector = chunk.getColumnVector(ID_COLUMN);
      for (let row = 0; row < take; row++) this.ids[at + row] = String(vector.getItem(from + row));
    }
    // Slice codes are integer-valued floats: the conversion to Int32 is exact.
    let column = layout.firstExtra;
    if (this.labels) this.labels.set(values[column++] as Float32Array, at);
    for (const codes of this.sliceCodes) codes.set(values[column++] as Float32Array, at);
    this.rowCount += take;
    return take;
  }

  reset(): this {
    this.rowCount = 0;
    return this;
  }

  get full(): boolean {
    return this.rowCount === this.capacity;
  }

  /** The batch, trimmed to the rows actually written. */
  build(): FeatureBatch {
    const n = this.rowCount;
    const trimmed = n === this.capacity;
    const values = [...this.plan.sliceValues.entries()];
    return {
      rowCount: n,
      featureCount: this.plan.featureCount,
      ids: trimmed ? this.ids : this.ids.slice(0, n),
      features: trimmed ? this.features : this.features.slice(0, n * this.plan.featureCount),
      labels: this.labels && (trimmed ? this.labels : this.labels.slice(0, n)),
      slices: this.sliceCodes.map((codes, index) => ({
        column: values[index]?.[0] ?? '',
        values: values[index]?.[1] ?? [],
        codes: trimmed ? codes : codes.slice(0, n),
      })),
    };
  }
}

export async function* readBatches(
  session: DuckSession,
  files: readonly string[],
  result: DuckDBResult,
  plan: Plan,
  batchRows: number,
  validRows: number,
  reuseBuffers: boolean,
): AsyncGenerator<FeatureBatch> {
  let remaining = validRows;
  let builder: BatchBuilder | undefined;
  let spare: BatchBuilder | undefined;
  const columns = new TypedColumns(result, [
    plan.idIsInteger ? 'bigint' : null,
    ...plan.layout.sqlColumns.map(() => 'float' as const),
    ...plan.layout.sources.map(() => 'double' as const),
  ]);
  const chunks = prefetchedChunks(result);
  try {
    for (;;) {
      const chunk = await nextChunkOrBlame(chunks, session, files);
      if (chunk === undefined) break;
      let offset = 0;
      while (offset < chunk.rowCount) {
        if (remaining === 0) throw sourceChanged(validRows);
        // Sized from the validation pass's count: no buffer ever grows or is over-allocated.
        if (builder === undefined) {
          const capacity = Math.min(batchRows, remaining);
          builder = spare?.capacity === capacity ? spare.reset() : new BatchBuilder(plan, columns, capacity);
        }
        const taken = builder.append(chunk, offset, chunk.rowCount - offset);
        offset += taken;
        remaining -= taken;
        if (builder.full) {
          yield builder.build();
          // The consumer asked for the next batch: the previous one may be refilled.
          if (reuseBuffers) spare = builder;
          builder = undefined;
        }
      }
    }
  } finally {
    // Leaving early (the consumer stopped, or an error): let the fetch in flight finish first.
    await chunks.return(undefined);
  }
  if (remaining !== 0) {
    // A query that fails once DuckDB's threads have run ahead of the reader (a corrupt page far
    // into a big file) ends the stream early without an error: find the file before blaming a change.
    const unreadable = await unreadableFile(files, (file) => session.connection.run(readEveryColumn(file)));
    throw unreadable ?? sourceChanged(validRows);
  }
}

function sourceChanged(expected: number): DataError {
  return new DataError(
    `extracting features: expected ${expected} valid rows as counted by validation, found a different number (files changed while being read?)`,
    { retriable: true },
  );
}

/** A failed read names its file: the stream's error does not, so the files are tried one by one. */
async function nextChunkOrBlame(
  chunks: AsyncGenerator<DuckDBDataChunk>,
  session: DuckSession,
  files: readonly string[],
): Promise<DuckDBDataChunk | undefined> {
  try {
    const next = await chunks.next();
    return next.done ? undefined : next.value;
  } catch (error) {
    return blameFile(files, (file) => session.connection.run(readEveryColumn(file)), error);
  }
}

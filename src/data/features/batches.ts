import type { DuckDBDataChunk, DuckDBResult } from '@duckdb/node-api';
import { DataError } from '../../errors.ts';
import { type DuckSession, prefetchedChunks, TypedColumns } from '../duckdb.ts';
import { blameFile, readingEveryColumn, unreadableFile } from './blame.ts';
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
  /** The query over each segment of the read, in order, and the files it reads. */
  segments: Segment[];
  /** Segments are materialized one ahead; otherwise the one segment is a streaming query. */
  materialize: boolean;
  featureCount: number;
  /** The DuckDB-computed values and how JS fills the slots from them and from the sources. */
  layout: VectorLayout;
  withLabels: boolean;
  idIsInteger: boolean;
  sliceValues: Map<string, string[]>;
}

/** Fills typed arrays from DuckDB chunks, 2,048 rows at a time (exported for its tests). */
export class BatchBuilder {
  rowCount = 0;
  readonly ids: BigInt64Array | string[];
  readonly features: Float32Array;
  readonly labels: Float32Array | undefined;
  readonly sliceCodes: Int32Array[];

  constructor(
    readonly plan: Plan,
    readonly capacity: number,
  ) {
    this.ids = plan.idIsInteger ? new BigInt64Array(capacity) : new Array<string>(capacity);
    this.features = new Float32Array(capacity * plan.featureCount);
    this.labels = plan.withLabels ? new Float32Array(capacity) : undefined;
    this.sliceCodes = [...plan.sliceValues.keys()].map(() => new Int32Array(capacity));
  }

  /** New arrays, mapped in the background (see `prefault`). */
  static prefaulted(plan: Plan, capacity: number): BatchBuilder {
    const builder = new BatchBuilder(plan, capacity);
    void builder.prefault();
    return builder;
  }

  /** Set when the batch is handed out: the pages ahead of the writer are no longer touched. */
  private settled = false;

  /**
   * Writes a zero into every 4 KiB page of the arrays that rows have not reached yet, so that
   * the kernel maps them on this thread's idle time: a first write to fresh memory faults once
   * per page, 20 to 38 ms for the 50 MB of a 966k-row batch in this VM. Runs in the background
   * a few hundred pages at a time, letting the event loop run between them, while DuckDB starts
   * the query and whenever the reader waits for a chunk. It goes from the arrays' ends back
   * towards the writer and stops where it meets it: a written row is never touched.
   */
  async prefault(): Promise<void> {
    const arrays: [Float32Array | Int32Array | BigInt64Array, number][] = [
      [this.features, this.plan.featureCount],
      ...this.sliceCodes.map((codes) => [codes, 1] as [Int32Array, number]),
    ];
    if (this.labels) arrays.push([this.labels, 1]);
    if (this.ids instanceof BigInt64Array) arrays.push([this.ids, 1]);
    for (const [array, perRow] of arrays) {
      const stride = PAGE_BYTES / array.BYTES_PER_ELEMENT;
      const zero = array instanceof BigInt64Array ? 0n : 0;
      for (let end = array.length; end > 0; end -= stride * PREFAULT_PAGES) {
        // Yield first: the caller goes on to start the query before any page is touched.
        await new Promise((resolve) => setImmediate(resolve));
        const start = Math.max(0, end - stride * PREFAULT_PAGES, this.rowCount * perRow);
        if (this.settled || start >= end) break;
        for (let element = end - 1; element >= start; element -= stride) array[element] = zero;
      }
    }
  }

  /** Copies rows [from, from + count) of the chunk; returns how many fitted. */
  append(columns: TypedColumns, chunk: DuckDBDataChunk, from: number, count: number): number {
    const take = Math.min(count, this.capacity - this.rowCount);
    const at = this.rowCount;
    const { layout } = this.plan;
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

  /** Ends `prefault`: the batch is handed out, or abandoned. */
  settle(): void {
    this.settled = true;
  }

  get full(): boolean {
    return this.rowCount === this.capacity;
  }

  /** The batch, trimmed to the rows actually written. */
  build(): FeatureBatch {
    this.settle();
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

const PAGE_BYTES = 4096;
/** Pages mapped between two turns of the event loop: 2 MiB, about a millisecond here. */
const PREFAULT_PAGES = 512;

/** A read's query (and the files it reads, to name a bad one). */
interface Segment {
  sql: string;
  files: readonly string[];
}

/** The batches of the plan's rows, `batchRows` rows each (the last one shorter). */
export async function* readBatches(
  session: DuckSession,
  files: readonly string[],
  plan: Plan,
  batchRows: number,
  validRows: number,
  reuseBuffers: boolean,
): AsyncGenerator<FeatureBatch> {
  let remaining = validRows;
  // The first batch's arrays are made now and mapped while DuckDB starts the query.
  let builder: BatchBuilder | undefined = BatchBuilder.prefaulted(plan, Math.min(batchRows, remaining));
  let spare: BatchBuilder | undefined;
  const kinds = [
    plan.idIsInteger ? ('bigint' as const) : null,
    ...plan.layout.sqlColumns.map(() => 'float' as const),
    ...plan.layout.sources.map(() => 'double' as const),
  ];
  // Every result has the same columns: their types are checked once per result.
  let typed: { result: DuckDBResult; columns: TypedColumns } | undefined;
  const chunks = plan.materialize
    ? segmentChunks(session, plan.segments)
    : streamedChunks(session, plan.segments[0] as Segment);
  try {
    for await (const [chunk, result] of chunks) {
      if (typed?.result !== result) typed = { result, columns: new TypedColumns(result, kinds) };
      let offset = 0;
      while (offset < chunk.rowCount) {
        if (remaining === 0) throw sourceChanged(validRows);
        // Sized from the validation pass's count: no buffer ever grows or is over-allocated.
        if (builder === undefined) {
          const capacity = Math.min(batchRows, remaining);
          builder = spare?.capacity === capacity ? spare.reset() : BatchBuilder.prefaulted(plan, capacity);
        }
        const taken = builder.append(typed.columns, chunk, offset, chunk.rowCount - offset);
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
    builder?.settle();
  }
  if (remaining !== 0) {
    // A streaming query that fails once DuckDB's threads have run ahead of the reader (a corrupt
    // page far into a big file) ends early without an error: find the file before blaming a change.
    const unreadable = await unreadableFile(files, readingEveryColumn(session.connection));
    throw unreadable ?? sourceChanged(validRows);
  }
}

/** Each chunk of a read, with the result it came from. */
type Chunks = AsyncGenerator<[DuckDBDataChunk, DuckDBResult]>;

/**
 * The chunks of each segment's materialized result, in order, the next segment running in
 * DuckDB while the caller reads this one's chunks (taken synchronously). A failed segment names
 * its bad file (its files are read one by one). Leaving early waits for the query in flight, so
 * the connection is never closed under it.
 */
async function* segmentChunks(session: DuckSession, segments: readonly Segment[]): Chunks {
  const run = (segment: Segment) => {
    const running = session.connection
      .run(segment.sql)
      .catch((error: unknown) => blameFile(segment.files, readingEveryColumn(session.connection), error));
    // Failing while the caller is busy with the previous segment is not an unhandled rejection:
    // the error is thrown when this segment is awaited.
    running.catch(() => undefined);
    return running;
  };
  let next = 0;
  let running = segments[next] === undefined ? undefined : run(segments[next++] as Segment);
  try {
    while (running !== undefined) {
      const result = await running;
      const segment = segments[next++];
      running = segment === undefined ? undefined : run(segment);
      const chunkCount = result.chunkCount;
      for (let index = 0; index < chunkCount; index++) yield [result.getChunk(index), result];
    }
  } finally {
    await running?.catch(() => undefined);
  }
}

/** The chunks of one streaming query, one fetch ahead; a failed read names its bad file. */
async function* streamedChunks(session: DuckSession, segment: Segment): Chunks {
  const blame = (error: unknown) => blameFile(segment.files, readingEveryColumn(session.connection), error);
  const result = await session.connection.stream(segment.sql).catch(blame);
  const chunks = prefetchedChunks(result);
  try {
    for (;;) {
      const next = await chunks.next().catch(blame);
      if (next.done) return;
      yield [next.value, result];
    }
  } finally {
    // Leaving early (the consumer stopped, or an error): let the fetch in flight finish first.
    await chunks.return(undefined);
  }
}

function sourceChanged(expected: number): DataError {
  return new DataError(
    `extracting features: expected ${expected} valid rows as counted by validation, found a different number (files changed while being read?)`,
    { retriable: true },
  );
}

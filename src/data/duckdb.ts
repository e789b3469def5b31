import {
  type DuckDBConnection,
  type DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBResult,
  DuckDBTypeId,
  quotedIdentifier,
  quotedString,
} from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';

/** A connection to the process's DuckDB engine; `close()` releases it. */
export interface DuckSession {
  connection: DuckDBConnection;
  close(): void;
}

let sharedInstance: Promise<DuckDBInstance> | undefined;

/**
 * DuckDB is only the engine that reads and writes Parquet here: nothing is kept in its catalog
 * between calls (temporary tables belong to one connection). One in-memory instance serves the
 * whole process because closing an instance costs about 100 ms, as much as extracting 300k rows.
 */
export async function openDuckSession(): Promise<DuckSession> {
  sharedInstance ??= DuckDBInstance.create(':memory:').catch((error: unknown) => {
    sharedInstance = undefined;
    throw error;
  });
  const connection = await (await sharedInstance).connect();
  return {
    connection,
    close() {
      connection.closeSync();
    },
  };
}

/** Caps the threads of this process's (or worker thread's) DuckDB engine. */
export async function setDuckThreads(threads: number): Promise<void> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`DuckDB threads: expected a positive integer, got ${threads}`);
  }
  await withDuckSession((connection) => connection.run(`SET threads = ${threads}`));
}

export async function withDuckSession<T>(use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const session = await openDuckSession();
  try {
    return await use(session.connection);
  } finally {
    session.close();
  }
}

/**
 * Lets DuckDB run further ahead of a streaming reader: it stops producing once this much of the
 * result waits unread. At the default (976 KiB, a dozen chunks of features) its threads mostly
 * waited for the reader: measured on 1M flights, feature extraction took 430 ms at the default
 * and 280 ms at 8 to 32 MB. Memory stays bounded by this size.
 */
export async function widenStreamingBuffer(connection: DuckDBConnection): Promise<void> {
  await connection.run(`SET streaming_buffer_size = '16MB'`);
}

/**
 * The chunks of a streaming result, asking DuckDB for the next one before handing out the
 * current one, so that the fetch (a round trip through libuv's thread pool, where DuckDB may
 * also have to finish the chunk) overlaps the caller's work on this one. One fetch is in flight
 * at a time, so chunks come in order; a chunk stays valid after the next is fetched (each is
 * its own allocation). Stopping early waits for the fetch in flight, so that the connection is
 * never closed under it.
 */
export async function* prefetchedChunks(result: DuckDBResult): AsyncGenerator<DuckDBDataChunk> {
  // A fetch that fails while the caller is still busy (awaiting other I/O) must not count as an
  // unhandled rejection, which would end the process: it is handled here, and thrown when awaited.
  const fetchNext = () => {
    const fetched = result.fetchChunk();
    fetched.catch(() => undefined);
    return fetched;
  };
  let next = fetchNext();
  let pending = true;
  try {
    for (;;) {
      const chunk = await next;
      pending = false;
      if (chunk === null || chunk.rowCount === 0) return;
      next = fetchNext();
      pending = true;
      yield chunk;
    }
  } finally {
    if (pending) await next.catch(() => null);
  }
}

export const sqlIdentifier = quotedIdentifier;
export const sqlString = quotedString;

/** A SQL literal for a finite number; DuckDB reads `1e-7` and `-3.5` as DOUBLE. */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`expected a finite number for SQL, got ${value}`);
  return `${value}::DOUBLE`;
}

export function sqlStringList(values: readonly string[]): string {
  return `[${values.map(quotedString).join(', ')}]::VARCHAR[]`;
}

/** The column kinds read as typed arrays. */
export type TypedColumnKind = 'float' | 'double' | 'bigint';

const TYPE_IDS: Record<TypedColumnKind, DuckDBTypeId> = {
  float: DuckDBTypeId.FLOAT,
  double: DuckDBTypeId.DOUBLE,
  bigint: DuckDBTypeId.BIGINT,
};

/**
 * Typed-array views of a result's columns (streamed or materialized), through DuckDB's C API
 * (`duckdb_vector_get_data`): copying from them is what makes
 * extraction run at millions of rows per second (reading values one by one through `getItem` is
 * 20x slower). The column types are checked once, when the reader is made, so a type change
 * fails loudly instead of reading garbage; per chunk nothing else is built (`getColumnVector`
 * makes a type object and wrappers for every vector: 8% of the reading thread's time).
 * Only for columns without nulls: validity is not read. A view is valid only while its chunk is
 * alive: callers copy before letting the chunk go.
 */
export class TypedColumns {
  /** `kinds[i]` for result column i; null for a column read some other way. */
  constructor(result: DuckDBResult, kinds: readonly (TypedColumnKind | null)[]) {
    for (const [index, kind] of kinds.entries()) {
      if (kind === null) continue;
      const type = result.columnType(index);
      if (type.typeId !== TYPE_IDS[kind]) {
        throw new TypeError(`result column ${index}: expected ${kind.toUpperCase()}, got ${type}`);
      }
    }
  }

  floats(chunk: DuckDBDataChunk, column: number): Float32Array {
    const bytes = bindings.vector_get_data(
      bindings.data_chunk_get_vector(chunk.chunk, column),
      chunk.rowCount * 4,
    );
    return new Float32Array(bytes.buffer, bytes.byteOffset, chunk.rowCount);
  }

  doubles(chunk: DuckDBDataChunk, column: number): Float64Array {
    const bytes = bindings.vector_get_data(
      bindings.data_chunk_get_vector(chunk.chunk, column),
      chunk.rowCount * 8,
    );
    return new Float64Array(bytes.buffer, bytes.byteOffset, chunk.rowCount);
  }

  bigints(chunk: DuckDBDataChunk, column: number): BigInt64Array {
    const bytes = bindings.vector_get_data(
      bindings.data_chunk_get_vector(chunk.chunk, column),
      chunk.rowCount * 8,
    );
    return new BigInt64Array(bytes.buffer, bytes.byteOffset, chunk.rowCount);
  }
}

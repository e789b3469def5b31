import { DataError } from '../../errors.ts';
import { openDuckSession, sqlIdentifier, widenStreamingBuffer } from '../duckdb.ts';
import type { ErrorSink } from '../errorSink.ts';
import type { Partition } from '../partitions.ts';
import { type Plan, readBatches, resultColumns } from './batches.ts';
import type { FeatureSlot, FittedFeatures } from './fitted.ts';
import { type RowRange, readSql, segmentSource } from './source.ts';
import { enumIndex, featureVector, idExpression, labelExpression, validRowExpression } from './sql.ts';
import {
  DEFAULT_MAX_ERROR_RATE,
  type FeatureReadReport,
  type ValidatedSource,
  validateFeatureSource,
} from './validate.ts';

export interface FeatureReadOptions {
  /** From `listPartitions`; rows come out in partition order, then file order. */
  partitions: readonly Partition[];
  /** Fitted on a training window; applied as is, never refitted. */
  fitted: FittedFeatures;
  /**
   * Rows [from, to) of some files, by position in the file; the other files are read whole.
   * Ranges aligned with row groups read only those row groups (a shard of one day).
   */
  rowRanges?: ReadonlyMap<string, RowRange>;
  /** Read the label too; defaults to whether the fitted spec has one. */
  withLabels?: boolean;
  /** Compute slice codes (default true); scoring needs only ids and features. */
  withSlices?: boolean;
  errorSink?: ErrorSink;
  /** Fraction of bad rows above which reading fails; default 0.01. */
  maxErrorRate?: number;
  /** Rows per batch when streaming; default 65,536. */
  batchRows?: number;
  /**
   * Have DuckDB materialize the read in segments of about this many rows, one query each (see
   * `SEGMENT_ROWS`), instead of streaming one query: faster, for up to two segments' results
   * in memory (about 40 bytes a row for the flights features) and more until they are
   * collected. `readFeatures` does, with `SEGMENT_ROWS`; a stream does not unless asked.
   */
  segmentRows?: number;
  /**
   * Refill the same typed arrays for every batch: a batch is then valid only until the next
   * one is requested. Fresh memory costs its first write (page faults): measured here, 15-17 ms
   * to fill a new 36 MB Float32Array (1M rows of 9 floats) the first time and 2 ms the second,
   * so a consumer that scores a batch and lets it go should ask for this.
   */
  reuseBuffers?: boolean;
}

/** Row codes of one slice column: `codes[i]` indexes `values`, -1 for null. */
export interface SliceColumn {
  column: string;
  values: string[];
  codes: Int32Array;
}

/** Rows in columnar form. No per-row objects: typed arrays, and strings only for string ids. */
export interface FeatureBatch {
  rowCount: number;
  /** k: the number of floats per row (`slots.length`). */
  featureCount: number;
  ids: BigInt64Array | string[];
  /** Row-major, `rowCount * featureCount` values; categorical slots hold integer indices. */
  features: Float32Array;
  labels: Float32Array | undefined;
  slices: SliceColumn[];
}

export interface FeatureStream extends AsyncIterable<FeatureBatch> {
  /** Known before the first batch: the validation pass has already counted every row. */
  report: FeatureReadReport;
  /** Rows the batches will hold in total (`report.rows - report.errorRows`). */
  validRows: number;
  slots: FeatureSlot[];
  /**
   * Releases DuckDB; called by the iterator when it finishes or is left early. Called during a
   * read, it ends the read at its next batch and releases DuckDB once the query in flight is done.
   */
  close(): void;
}

/**
 * Opens a stream of feature batches over partitions, memory bounded by `batchRows` whatever
 * the input size. The transform is one DuckDB query producing the values it computes as FLOAT
 * columns and the numeric and time sources as DOUBLE, streamed (or run segment by segment, see
 * `segmentRows`); each 2,048-row chunk's buffers are read through DuckDB's C API and written
 * into the batch's slots (see `vector.ts`).
 */
export async function openFeatureStream(options: FeatureReadOptions): Promise<FeatureStream> {
  const session = await openDuckSession();
  let closed = false;
  const release = () => {
    if (!closed) session.close();
    closed = true;
  };
  // Closing mid-read must not close the connection under a query in flight (a segment runs
  // while the consumer holds a batch): the read is stopped, and releases the session itself.
  let reading: AsyncGenerator<FeatureBatch> | undefined;
  const close = () => {
    const stopping = reading;
    reading = undefined;
    if (stopping === undefined) release();
    else
      void stopping
        .return(undefined)
        .catch(() => undefined)
        .finally(release);
  };
  try {
    const withLabels = options.withLabels ?? options.fitted.label !== undefined;
    const validated = await validateFeatureSource(session.connection, {
      partitions: options.partitions,
      ranges: options.rowRanges,
      withSlices: options.withSlices ?? true,
      fitted: options.fitted,
      withLabels,
      errorSink: options.errorSink,
      maxErrorRate: options.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE,
    });
    const plan = extractionPlan(options.fitted, validated, withLabels, options.segmentRows);
    if (!plan.materialize) await widenStreamingBuffer(session.connection);
    const batchRows = options.batchRows ?? 65_536;
    const validRows = validated.report.rows - validated.report.errorRows;
    async function* batches(): AsyncGenerator<FeatureBatch> {
      try {
        if (validRows === 0) return;
        yield* readBatches(
          session,
          validated.files,
          plan,
          batchRows,
          validRows,
          options.reuseBuffers ?? false,
        );
      } finally {
        reading = undefined;
        release();
      }
    }
    return {
      report: validated.report,
      validRows,
      slots: options.fitted.slots,
      close,
      [Symbol.asyncIterator]: () => {
        reading = batches();
        return reading;
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

/** Every valid row of the partitions in one batch, sized exactly from the validation pass. */
export async function readFeatures(
  options: Omit<FeatureReadOptions, 'batchRows'>,
): Promise<{ batch: FeatureBatch; report: FeatureReadReport }> {
  const stream = await openFeatureStream({
    ...options,
    batchRows: Number.MAX_SAFE_INTEGER,
    segmentRows: options.segmentRows ?? SEGMENT_ROWS,
  });
  // batchRows above every count: the stream sizes its one batch to exactly the valid rows.
  let batch: FeatureBatch | undefined;
  for await (const only of stream) batch = only;
  return { batch: batch ?? emptyBatch(stream), report: stream.report };
}

function emptyBatch(stream: FeatureStream): FeatureBatch {
  return {
    rowCount: 0,
    featureCount: stream.slots.length,
    ids: new BigInt64Array(0),
    features: new Float32Array(0),
    labels: undefined,
    slices: [],
  };
}

/**
 * Rows a segment of a one-array read holds. Each segment is a query whose result DuckDB
 * materializes with all its threads while this thread writes the previous segment's rows: its
 * chunks are then taken synchronously, where a streaming result costs an asynchronous fetch
 * per 2,048 rows. Measured on 966k flights, in one process: the one-array read took 187-205 ms
 * in segments of 131k to 330k rows against 207-234 ms streamed (and 242 ms in 65k-row segments:
 * each query costs DuckDB 15-20 ms to start). It also raised the process's peak RSS from 321 to
 * 430 MiB over seven reads: results are freed when collected. A stream keeps to one streaming
 * query, whose memory is bounded by DuckDB's streaming buffer.
 */
const SEGMENT_ROWS = 262_144;

/** Slice codes travel as floats, exact below 2^24. */
const MAX_SLICE_VALUES = 2 ** 24;

function extractionPlan(
  fitted: FittedFeatures,
  validated: ValidatedSource,
  withLabels: boolean,
  segmentRows: number | undefined,
): Plan {
  const label = withLabels && fitted.label !== undefined;
  const uses = { id: fitted.id, features: fitted.features, label: fitted.label, slices: fitted.slices };
  const extras: string[] = [];
  if (label && fitted.label) {
    extras.push(labelExpression(fitted.label, validated.floatColumns.has(fitted.label.column)));
  }
  for (const [column, values] of validated.sliceValues) {
    if (values.length >= MAX_SLICE_VALUES) {
      throw new DataError(
        `slice '${column}' of '${fitted.spec.name}': ${values.length} distinct values, expected fewer than ${MAX_SLICE_VALUES}`,
      );
    }
    extras.push(enumIndex(`CAST(${sqlIdentifier(column)} AS VARCHAR)`, values, 0, -1));
  }
  const vector = featureVector(fitted, extras);
  const columns = resultColumns(
    idExpression(validated.idIsInteger, fitted.id),
    vector.values,
    vector.layout.sources,
  );
  // When validation found no bad row the filter is dropped: it costs 100 ms per million rows.
  const filter =
    validated.report.errorRows === 0
      ? ''
      : `WHERE ${validRowExpression(uses, withLabels, validated.floatColumns)}`;
  const select = `SELECT ${columns.join(',\n  ')}`;
  const parts =
    segmentRows === undefined
      ? [validated.source]
      : segmentSource(validated.source, validated.fileRows, segmentRows);
  const segments = parts.map((segment) => ({
    sql: `${select}\n    FROM ${readSql(segment)} ${filter}`,
    files: segment.files,
  }));
  return {
    segments,
    materialize: segmentRows !== undefined,
    featureCount: fitted.slots.length,
    layout: vector.layout,
    withLabels: label,
    idIsInteger: validated.idIsInteger,
    sliceValues: validated.sliceValues,
  };
}

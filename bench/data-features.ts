/**
 * Feature extraction throughput on the flights partitions, against DuckDB reading the same raw
 * columns in the same process (the ceiling), and Kafka ingest when a broker is reachable.
 * Prints figures; never asserts on time.  Run: npx tsx bench/data-features.ts
 */
import os from 'node:os';
import path from 'node:path';
import {
  type DuckDBDataChunk,
  type DuckDBMaterializedResult,
  type DuckDBResult,
  DuckDBTypeId,
} from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';
import { flightsDelayFeatures } from '../pipelines/flights-delay/features.ts';
import { loadConfig } from '../src/config.ts';
import { prefetchedChunks, widenStreamingBuffer, withDuckSession } from '../src/data/duckdb.ts';
import { sqlFileList } from '../src/data/features/fit.ts';
import { type ReadSource, readSql, segmentSource } from '../src/data/features/source.ts';
import {
  fitFeatures,
  listPartitions,
  openFeatureStream,
  prepareFlights,
  readFeatures,
} from '../src/data/index.ts';
import { benchKafkaIngest } from './data-kafka.ts';
import { median } from './median.ts';

const FROM = process.env.BENCH_FROM ?? '2001-01-01';
const TO = process.env.BENCH_TO ?? '2001-02-28';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Measured {
  rows: number;
  wallMs: number[];
  cpuMs: number[];
}

/**
 * Runs the contenders in turn, `runs` rounds: other work on a shared machine then slows each
 * of them alike, which keeps the ratio meaningful when absolute figures are not. CPU time
 * (this process, all threads) is reported beside wall time: it varies less with that load.
 */
async function interleaved(
  runs: number,
  contenders: Record<string, () => Promise<number>>,
): Promise<Record<string, Measured>> {
  const measured: Record<string, Measured> = {};
  for (let round = 0; round < runs; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      const rows = await run();
      const wall = performance.now() - start;
      const cpu = process.cpuUsage(cpuBefore);
      const entry = measured[name] ?? { rows, wallMs: [], cpuMs: [] };
      measured[name] = entry;
      entry.wallMs.push(wall);
      entry.cpuMs.push((cpu.user + cpu.system) / 1000);
    }
  }
  return measured;
}

function describe(name: string, measured: Measured): string {
  const wall = median(measured.wallMs);
  const cpu = median(measured.cpuMs);
  const perSecond = ((measured.rows / wall) * 1000) / 1e6;
  return `${name}: ${measured.rows} rows, median ${wall.toFixed(0)} ms wall (${perSecond.toFixed(2)}M rows/s), ${cpu.toFixed(0)} ms CPU`;
}

const { dataDir } = loadConfig();
const prepared = await prepareFlights({ dataDir, from: FROM, to: TO });
const partitions = await listPartitions(path.join(dataDir, 'flights'), { from: FROM, to: TO });
const fitted = await fitFeatures(flightsDelayFeatures, partitions.slice(0, 14));
const files = partitions.flatMap((partition) => partition.files);
console.log(
  `flights ${FROM}..${TO}: ${partitions.length} partitions, ${prepared.rows} rows, k=${fitted.slots.length} floats a row`,
);

const rawColumns = 'flight_id, departure_time, distance, origin, destination, delay';
const rawSql = `SELECT ${rawColumns} FROM read_parquet(${sqlFileList(files)}, hive_partitioning = false)`;
/** Bytes a value of each raw column's type takes in a DuckDB vector (VARCHAR: its 16-byte string_t). */
const VECTOR_WIDTHS: Partial<Record<DuckDBTypeId, number>> = {
  [DuckDBTypeId.BIGINT]: 8,
  [DuckDBTypeId.INTEGER]: 4,
  [DuckDBTypeId.SMALLINT]: 2,
  [DuckDBTypeId.DOUBLE]: 8,
  [DuckDBTypeId.FLOAT]: 4,
  [DuckDBTypeId.TIMESTAMP]: 8,
  [DuckDBTypeId.VARCHAR]: 16,
};
const rawSegments = segmentSource(
  { files },
  new Map(
    partitions.flatMap((partition) =>
      partition.files.map((file, index) => [file, partition.manifest.files[index]?.rows ?? 0]),
    ),
  ),
  262_144,
);
/** Takes each raw column's vector memory through DuckDB's C API, as extraction takes its columns'. */
function touchRawChunk(chunk: DuckDBDataChunk, widths: readonly number[]): number {
  for (const [column, width] of widths.entries())
    bindings.vector_get_data(bindings.data_chunk_get_vector(chunk.chunk, column), chunk.rowCount * width);
  return chunk.rowCount;
}
function rawWidths(result: DuckDBResult): number[] {
  return result.columnTypes().map((type, index) => {
    const width = VECTOR_WIDTHS[type.typeId];
    if (width === undefined) throw new TypeError(`raw column ${index}: no width for ${type}`);
    return width;
  });
}
const results = await interleaved(RUNS, {
  // The ceiling, two ways; ratios are taken to the faster. Both take each vector's memory
  // through DuckDB's C API, as extraction does, and drop it: strings are not decoded.
  // As extraction reads: one query per segment of about 262k rows, materialized by DuckDB's
  // threads while the previous segment's chunks are taken.
  raw: () =>
    withDuckSession(async (connection) => {
      const sql = (segment: ReadSource) => `SELECT ${rawColumns} FROM ${readSql(segment)}`;
      let rows = 0;
      let running: Promise<DuckDBMaterializedResult> | undefined = connection.run(
        sql(rawSegments[0] as ReadSource),
      );
      for (let index = 0; running !== undefined; index++) {
        const result: DuckDBMaterializedResult = await running;
        const next = rawSegments[index + 1];
        running = next === undefined ? undefined : connection.run(sql(next));
        const widths = rawWidths(result);
        for (let chunk = 0; chunk < result.chunkCount; chunk++)
          rows += touchRawChunk(result.getChunk(chunk), widths);
      }
      return rows;
    }),
  // One streaming query (16 MB streaming buffer, one fetch ahead), as extraction read until
  // it took segments.
  rawStreamed: () =>
    withDuckSession(async (connection) => {
      await widenStreamingBuffer(connection);
      const result = await connection.stream(rawSql);
      const widths = rawWidths(result);
      let rows = 0;
      for await (const chunk of prefetchedChunks(result)) rows += touchRawChunk(chunk, widths);
      return rows;
    }),
  // What a training or validation read pays: footers, validation, the transform with labels
  // and slice codes, copied into one fresh array.
  oneArray: async () => (await readFeatures({ partitions, fitted })).batch.rowCount,
  // The same, streamed in 64k-row batches (bounded memory) refilling the same arrays.
  streamed: async () => {
    const stream = await openFeatureStream({ partitions, fitted, batchRows: 65_536, reuseBuffers: true });
    let rows = 0;
    for await (const batch of stream) rows += batch.rowCount;
    return rows;
  },
  // What a scoring shard reads: ids and features only, streamed.
  scoring: async () => {
    const stream = await openFeatureStream({
      partitions,
      fitted,
      withLabels: false,
      withSlices: false,
      batchRows: 65_536,
      reuseBuffers: true,
    });
    let rows = 0;
    for await (const batch of stream) rows += batch.rowCount;
    return rows;
  },
});
const raw = results.raw as Measured;
const rawStreamed = results.rawStreamed as Measured;
const ceiling = Math.min(median(raw.wallMs), median(rawStreamed.wallMs));
const ratios = (measured: Measured) =>
  `, ratio to raw ${(ceiling / median(measured.wallMs)).toFixed(2)} ` +
  `(to the streamed raw read ${(median(rawStreamed.wallMs) / median(measured.wallMs)).toFixed(2)})`;
console.log(describe(`raw DuckDB read in segments (${rawColumns})`, raw));
console.log(describe('raw DuckDB read, one streaming query', rawStreamed));
console.log(
  describe('feature extraction into one Float32Array', results.oneArray as Measured) +
    ratios(results.oneArray as Measured),
);
for (const [name, label] of [
  ['streamed', 'feature extraction, 64k-row batches, reused arrays'],
  ['scoring', 'the same without labels and slice codes (a scoring read)'],
] as const) {
  console.log(describe(label, results[name] as Measured) + ratios(results[name] as Measured));
}
console.log(
  `median of ${RUNS} runs each; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; ` +
    `${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)} (other work on the machine slows every figure)`,
);

await benchKafkaIngest({ dataDir });

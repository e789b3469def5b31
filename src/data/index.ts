/**
 * The data plane: datasets as daily Parquet partitions with manifests, feature specs fitted and
 * applied in DuckDB, bad rows to an error sink, Kafka topics ingested by time range.
 * Knows no metadata database.
 */

export {
  contractFile,
  DATASET_CONTRACT_FILE,
  type DatasetContract,
  FLIGHTS_CONTRACT,
  messageSchemaOf,
  readContract,
  resolveContract,
  writeContract,
} from './datasetContract.ts';
export { type DatasetDay, type DatasetSummary, describeDataset, listDatasets } from './datasetList.ts';
export { addDays, type Day, dayRanges, dayStartMs, daysBetween, parseDay } from './dates.ts';
export { type DuckSession, openDuckSession, withDuckSession } from './duckdb.ts';
export { type ErrorSink, errorSinkFile, errorSinkFor } from './errorSink.ts';
export * from './features/index.ts';
export {
  FLIGHTS_COLUMNS,
  FLIGHTS_DATASET,
  flightsSourceFile,
  type PreparedPartition,
  type PrepareFlightsOptions,
  type PrepareFlightsResult,
  prepareFlights,
} from './flights.ts';
export { type ImportedDay, type ImportOptions, type ImportResult, importDataset } from './import.ts';
export { IMPORT_FORMATS, type ImportFormat } from './importSource.ts';
export * from './kafka/index.ts';
export { type ColumnSchema, MANIFEST_FILE, type PartitionManifest } from './manifest.ts';
export {
  type ListPartitionsOptions,
  listPartitions,
  PARTITION_ROW_GROUP_ROWS,
  type Partition,
  type PartitionWriteResult,
  partitionDir,
  type WritePartitionRequest,
  writePartition,
} from './partitions.ts';
export { type ParquetInputOptions, resolveParquetInputs } from './scoreInputs.ts';
export { type PartitionWindow, readWindow } from './window.ts';

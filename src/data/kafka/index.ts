export { parseBrokers } from './client.ts';
export { datasetKafkaSourceOptions, dayInterval } from './datasetSource.ts';
export type { MessageColumnType, MessageSchema } from './messages.ts';
export {
  FLIGHTS_MESSAGE_SCHEMA,
  flightsKafkaSourceOptions,
  type ReplayDatasetOptions,
  type ReplayFlightsOptions,
  type ReplayFlightsResult,
  type ReplayResult,
  replayDataset,
  replayFlights,
} from './replay.ts';
export {
  type KafkaIngestRequest,
  type KafkaIngestResult,
  type KafkaSource,
  type KafkaSourceOptions,
  kafkaSource,
} from './source.ts';

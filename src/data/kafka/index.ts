export { parseBrokers } from './client.ts';
export type { MessageColumnType, MessageSchema } from './messages.ts';
export {
  FLIGHTS_MESSAGE_SCHEMA,
  flightsKafkaSourceOptions,
  type ReplayFlightsOptions,
  type ReplayFlightsResult,
  replayFlights,
} from './replay.ts';
export {
  type KafkaIngestRequest,
  type KafkaIngestResult,
  type KafkaSource,
  type KafkaSourceOptions,
  kafkaSource,
} from './source.ts';

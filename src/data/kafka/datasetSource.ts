import { type DatasetContract, messageSchemaOf } from '../datasetContract.ts';
import { addDays, type Day, dayStartMs } from '../dates.ts';
import type { KafkaSourceOptions } from './source.ts';

/** Types whose values are instants or wall-clock times: a message's event time can be checked. */
const EVENT_TIME_TYPES = /^(TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS)$/;

/**
 * A topic of a dataset's events as an ingest source, from the dataset's contract: one JSON field
 * per column, written with the contract's types, one row per id within a day (see source.ts),
 * and the event time checked against the day when the contract has a timestamp event time.
 */
export function datasetKafkaSourceOptions(contract: DatasetContract, topic: string): KafkaSourceOptions {
  const eventType = contract.columns.find((column) => column.name === contract.eventTimeColumn)?.type;
  const checkEventTime = eventType !== undefined && EVENT_TIME_TYPES.test(eventType);
  const orderBy = contract.idColumn ?? contract.eventTimeColumn;
  return {
    topic,
    format: 'json',
    dataset: contract.dataset,
    columns: messageSchemaOf(contract),
    columnTypes: Object.fromEntries(contract.columns.map((column) => [column.name, column.type])),
    ...(checkEventTime ? { timestampField: contract.eventTimeColumn } : {}),
    ...(contract.idColumn === undefined ? {} : { idColumn: contract.idColumn }),
    ...(orderBy === undefined ? {} : { orderBy: [orderBy] }),
  };
}

/**
 * [start, end) in epoch ms of day D in an IANA zone (UTC when absent): the Kafka timestamps of
 * a day of a dataset whose days are those of its zone.
 */
export function dayInterval(day: Day, timezone: string | undefined): { startMs: number; endMs: number } {
  if (timezone === undefined || timezone === 'UTC') {
    return { startMs: dayStartMs(day), endMs: dayStartMs(addDays(day, 1)) };
  }
  return { startMs: zonedMidnightMs(day, timezone), endMs: zonedMidnightMs(addDays(day, 1), timezone) };
}

/** Epoch ms of 00:00 of `day` in `zone`: UTC midnight shifted by the zone's offset there. */
function zonedMidnightMs(day: Day, zone: string): number {
  const utc = dayStartMs(day);
  let guess = utc - offsetMs(utc, zone);
  // The offset at the guess may differ (a DST change that day): once more settles it.
  guess = utc - offsetMs(guess, zone);
  return guess;
}

function offsetMs(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

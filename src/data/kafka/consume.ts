import { randomBytes } from 'node:crypto';
import { DataError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import type { KafkaClient } from './client.ts';

type Admin = ReturnType<KafkaClient['admin']>;

/** Offsets [start, end) of one partition: the messages of a time interval. */
export interface OffsetRange {
  partition: number;
  start: bigint;
  end: bigint;
}

/**
 * The offsets of [startMs, endMs) in every partition: the first offset whose timestamp is at
 * or after each bound (the high watermark when there is none, so an interval still being
 * written ends at what exists now).
 */
export async function offsetsForInterval(
  admin: Admin,
  topic: string,
  startMs: number,
  endMs: number,
): Promise<OffsetRange[]> {
  const [starts, ends] = await Promise.all([
    admin.fetchTopicOffsetsByTimestamp(topic, startMs),
    admin.fetchTopicOffsetsByTimestamp(topic, endMs),
  ]);
  return starts
    .map(({ partition, offset }) => ({
      partition,
      start: BigInt(offset),
      end: BigInt(ends.find((end) => end.partition === partition)?.offset ?? offset),
    }))
    .sort((a, b) => a.partition - b.partition);
}

export interface ConsumedMessage {
  partition: number;
  offset: bigint;
  value: string;
}

/**
 * Reads exactly the given offset ranges, read_committed, then stops. A fresh consumer group
 * per call (nothing committed) and a seek to each range's start; messages outside a range
 * (fetched before the seek took effect, or past the end) are ignored. A range counts as read
 * when the consumer's position passes its end, which also covers transaction markers, which
 * occupy offsets but are never delivered.
 */
export async function consumeRanges(
  kafka: KafkaClient,
  topic: string,
  ranges: readonly OffsetRange[],
  onMessage: (message: ConsumedMessage) => void,
  idleTimeoutMs: number,
): Promise<void> {
  const pending = new Map(
    ranges.filter((range) => range.end > range.start).map((range) => [range.partition, range]),
  );
  if (pending.size === 0) return;
  const positions = new Map<number, bigint>();
  const next = new Map<number, bigint>();
  const groupId = `nightshift-ingest-${topic}-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxWaitTimeInMs: 200,
  });
  let lastProgress = Date.now();
  let failure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (failure !== undefined) reject(failure);
      else if (pending.size === 0) resolve();
      else if (Date.now() - lastProgress > idleTimeoutMs)
        reject(stalled(topic, pending, positions, idleTimeoutMs));
      else return;
      clearInterval(timer);
    }, 20);
  });
  const log = childLogger({ component: 'kafka', topic, groupId });
  // Seeks are made on every join, not once after run(): when the group coordinator is still
  // loading (a fresh broker), the first join fails, kafkajs restarts the consumer with a new
  // group state, and seeks made before are lost (or throw: "Consumer group was not initialized").
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    log.debug({ ms: event.payload.duration }, 'joined the group');
    for (const range of pending.values()) {
      const offset = next.get(range.partition) ?? range.start;
      consumer.seek({ topic, partition: range.partition, offset: String(offset) });
    }
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (event.payload.restart) log.warn({ error: String(event.payload.error) }, 'consumer restarting');
    else failure ??= event.payload.error;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = pending.get(batch.partition);
        if (range === undefined) return;
        try {
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            // A fetch from before the seek may be followed by the same offsets again: take each once.
            if (offset < (next.get(batch.partition) ?? range.start) || offset >= range.end) continue;
            next.set(batch.partition, offset + 1n);
            onMessage({ partition: batch.partition, offset, value: message.value?.toString('utf8') ?? '' });
          }
        } catch (error) {
          failure = error;
          return;
        }
        const position = BigInt(batch.lastOffset()) + 1n;
        if (position > (positions.get(batch.partition) ?? -1n)) positions.set(batch.partition, position);
        lastProgress = Date.now();
        if (position >= range.end) {
          pending.delete(batch.partition);
          consumer.pause([{ topic, partitions: [batch.partition] }]);
        }
      },
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
}

function stalled(
  topic: string,
  pending: Map<number, OffsetRange>,
  positions: Map<number, bigint>,
  idleTimeoutMs: number,
): DataError {
  const where = [...pending.values()]
    .map(
      (range) =>
        `partition ${range.partition} at ${positions.get(range.partition) ?? range.start} of [${range.start}, ${range.end})`,
    )
    .join(', ');
  return new DataError(
    `topic ${topic}: no progress for ${idleTimeoutMs} ms, ${where} (an open transaction?)`,
    {
      retriable: true,
    },
  );
}

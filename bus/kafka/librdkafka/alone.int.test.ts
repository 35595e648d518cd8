// librdkafka against the shared broker, on a topic whose max.message.bytes is 2000: two sends
// (or dead-letter writes) in flight share a record batch the broker refuses for one record;
// the refused records are then produced alone, one send after the other, so only that record
// is refused and the others, the other send's included, are in the topic once.
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../../core/event.js';
import type { RefusedEvent } from '../../../core/pipeline.js';
import { decodeEvent } from '../../../core/wire.js';
import { BUS_CLIENTS, SHARED_BROKERS, skipWhenMissing, topicsDeletedAfterAll } from '../../../test/integration/bus-harness.js';
import { captureLogger, makeEvent, waitFor } from '../../../test/support/index.js';
import { KafkaBus } from '../index.js';
import { kafkaBusOptions } from '../options.js';

const kafka = new kafkajs.Kafka({ brokers: SHARED_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);
const librdkafka = BUS_CLIENTS.find((c) => c.client === 'librdkafka')!;

/** Random, so no compression brings it under the topic's limit. */
const big = randomBytes(3000).toString('base64');

/** A one-partition topic refusing records over 2000 bytes, for `test`; the admin client is given to check offsets. */
async function withLimitedTopic(name: string, test: (topic: string, admin: kafkajs.Admin) => Promise<void>): Promise<void> {
  const topic = `sluice-${name}-${process.pid}-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }],
      waitForLeaders: true,
    });
    created.push(topic);
    await test(topic, admin);
  } finally {
    await admin.disconnect();
  }
}

/** What `read` makes of `topic`'s records, read from its beginning by a group of their own until `count` were; sorted. */
async function records(topic: string, count: number, read: (value: Buffer) => string): Promise<string[]> {
  const seen: string[] = [];
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(read(message.value!)) });
    await waitFor(`${count} records in ${topic}`, () => seen.length >= count, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return seen.sort();
}

const event = (id: string, message: string): LogEvent => makeEvent({ id, message, timestamp: 1_700_000_000_000 });

describe('librdkafka: records produced alone while other sends are in flight', () => {
  skipWhenMissing(librdkafka.missing);

  it('agent producer: dead-letters only the record too large when two sends shared its batch; the other send is acked whole', async () => {
    await withLimitedTopic('prod-alone', async (topic, admin) => {
      const options = kafkaBusOptions.parse({
        client: 'librdkafka',
        brokers: SHARED_BROKERS,
        topic,
        // A linger long enough for records produced alone by both sends at once to share a batch.
        producer: { create_topics: false, compression: 'none', batch: { timeout: '50ms' } },
      });
      const deadLettered: string[] = [];
      const producer = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger }).producer({
        refused: async (events: readonly RefusedEvent[]) => void deadLettered.push(...events.map((e) => e.event.id)),
      });
      await producer.open();
      await Promise.all([
        producer.send([event('a1', 'a1'), event('big', big), event('a2', 'a2')]),
        producer.send([event('b1', 'b1'), event('b2', 'b2'), event('b3', 'b3')]),
      ]);
      await producer.close();
      expect(deadLettered).toEqual(['big']);
      expect(await records(topic, 5, (v) => decodeEvent(v).id)).toEqual(['a1', 'a2', 'b1', 'b2', 'b3']);
      expect(await admin.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, high: '5' })]);
    });
  });

  it('dead-letter writer: refuses only the record too large when two writes shared its batch; the other write is acked whole', async () => {
    await withLimitedTopic('dl-alone', async (topic, admin) => {
      const options = kafkaBusOptions.parse({ client: 'librdkafka', brokers: SHARED_BROKERS, topic: 'unused' });
      const writer = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger }).recordWriter(topic);
      const entry = (value: string) => ({ key: null, value, id: value.slice(0, 8) });
      const [first, second] = await Promise.all([
        writer.write([entry('a'), entry(big)]),
        writer.write([entry('b'), entry('c'), entry('d')]),
      ]);
      await writer.close();
      expect(first.refused.map((r) => [r.index, r.error])).toEqual([[1, 'MESSAGE_TOO_LARGE']]);
      expect(second).toEqual({ refused: [] });
      expect(await records(topic, 4, (v) => v.toString())).toEqual(['a', 'b', 'c', 'd']);
      expect(await admin.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, high: '4' })]);
    });
  });
});

// The dead-letter topic's writer on librdkafka against the shared broker, on a topic whose
// max.message.bytes is 2000: two writes in flight share a record batch the broker refuses for
// one record; each record is then produced alone, one write after the other, so only that
// record is refused and the others, the other write's included, are in the topic once.
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BUS_CLIENTS, SHARED_BROKERS, skipWhenMissing, topicsDeletedAfterAll } from '../../../test/integration/bus-harness.js';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import { KafkaBus } from '../index.js';
import { kafkaBusOptions } from '../options.js';

const kafka = new kafkajs.Kafka({ brokers: SHARED_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);
const librdkafka = BUS_CLIENTS.find((c) => c.client === 'librdkafka')!;

/** The values of `topic`'s records, read from its beginning by a group of their own until `count` were. */
async function values(topic: string, count: number): Promise<string[]> {
  const seen: string[] = [];
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor(`${count} records in ${topic}`, () => seen.length >= count, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return seen.sort();
}

describe('librdkafka dead-letter writer: concurrent writes, a record the topic refuses', () => {
  skipWhenMissing(librdkafka.missing);

  it('refuses only the record too large when two writes shared its batch; the other write is acked whole', async () => {
    const topic = `sluice-dl-alone-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }],
        waitForLeaders: true,
      });
      created.push(topic);
      const options = kafkaBusOptions.parse({ client: 'librdkafka', brokers: SHARED_BROKERS, topic: 'unused' });
      const writer = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger }).recordWriter(topic);
      // Random, so no compression brings it under the limit.
      const big = randomBytes(3000).toString('base64');
      const entry = (value: string) => ({ key: null, value, id: value.slice(0, 8) });
      const [first, second] = await Promise.all([
        writer.write([entry('a'), entry(big)]),
        writer.write([entry('b'), entry('c'), entry('d')]),
      ]);
      await writer.close();
      expect(first.refused.map((r) => [r.index, r.error])).toEqual([[1, 'MESSAGE_TOO_LARGE']]);
      expect(second).toEqual({ refused: [] });
      expect(await values(topic, 4)).toEqual(['a', 'b', 'c', 'd']);
      expect(await admin.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, high: '4' })]);
    } finally {
      await admin.disconnect();
    }
  });
});

// The real broker from test/services answers kafkajs end to end: what goes in comes back
// out, all of it, once, in order.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const N = 500;

describe('Kafka (real broker)', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const kafka = new Kafka({ clientId: 'sluice-int-test', brokers, logLevel: logLevel.NOTHING });
  const topic = `sluice-int-${randomUUID()}`;
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer;

  beforeAll(async () => {
    admin = kafka.admin();
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    consumer = kafka.consumer({ groupId: `${topic}-group`, allowAutoTopicCreation: false });
    await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
  });

  afterAll(async () => {
    await Promise.allSettled([consumer?.disconnect(), producer?.disconnect()]);
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  it(`produces ${N} messages with acks=all and consumes exactly those ${N} back`, async () => {
    const sent = Array.from({ length: N }, (_, i) => ({
      key: `key-${i % 7}`,
      value: `message ${i} ${'x'.repeat(i % 50)} ünïcødé`,
      headers: { seq: String(i) },
    }));
    // Several batches, as a bus sink would send them.
    for (let i = 0; i < N; i += 100) {
      await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 100) });
    }

    const received: { key: string; value: string; seq: string; offset: string }[] = [];
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({
          key: message.key!.toString(),
          value: message.value!.toString(),
          seq: message.headers!.seq!.toString(),
          offset: message.offset,
        });
        if (received.length === N) resolveAll();
      },
    });
    await Promise.race([
      all,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`received ${received.length} of ${N} messages within 30 s`)), 30_000).unref(),
      ),
    ]);

    expect(received.map(({ key, value, seq }) => ({ key, value, headers: { seq } }))).toEqual(sent);
    expect(received.map((m) => m.offset)).toEqual(sent.map((_, i) => String(i)));
    // Nothing beyond the N: the partition ends where the last one was.
    const [end] = await admin.fetchTopicOffsets(topic);
    expect(end).toMatchObject({ partition: 0, high: String(N), low: '0' });
  });
});

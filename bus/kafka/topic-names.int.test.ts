// Topic names against the shared broker, with each client: a producer admits the value
// combinations of the topics that exist before it names any event, so a restarted agent sends
// an event where its first copy went; a name shortened to Kafka's limit is one the collectors'
// subscription reads.
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { decodeEvent } from '../../core/wire.js';
import { BUS_CLIENTS, SHARED_BROKERS, skipWhenMissing, topicsDeletedAfterAll } from '../../test/integration/bus-harness.js';
import { captureLogger, tempDir, waitFor } from '../../test/support/index.js';
import { KafkaBus } from './index.js';
import { kafkaBusOptions } from './options.js';
import { TopicNamer } from './topic-names.js';

const kafka = new kafkajs.Kafka({ brokers: SHARED_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);

const event = (id: string, service: string): LogEvent => ({
  id,
  timestamp: 1_700_000_000_000,
  message: `line ${id}`,
  service,
  module: 'api',
  host: 'h',
  source: { kind: 'file', path: '/var/log/a.log', offset: 0 },
  fields: {},
});

/**
 * The ids of the records in every topic named `<prefix>.*`, by topic: as many as the topics'
 * high watermarks say they hold (no compaction, no transactions), read by a group of its own.
 */
async function idsByTopic(admin: kafkajs.Admin, prefix: string): Promise<Record<string, string[]>> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
  let total = 0;
  for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high);
  const ids: Record<string, string[]> = Object.fromEntries(topics.map((t) => [t, []]));
  let read = 0;
  const consumer = kafka.consumer({ groupId: `${prefix}-check-${Date.now()}` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        ids[topic]!.push(decodeEvent(message.value!).id);
        read++;
      },
    });
    await waitFor(`${total} records read back from ${topics.join(', ')}`, () => read >= total, 60_000);
  } finally {
    await consumer.disconnect();
  }
  for (const list of Object.values(ids)) list.sort();
  return ids;
}

describe.each(BUS_CLIENTS)('topic_max_distinct [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('admits the combinations of the existing topics first, without counting them: a replayed event keeps its topic across a restart', async () => {
    const prefix = `sluice-distinct-${client}-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Two combinations with a topic already: other agents' services.
      await admin.createTopics({
        waitForLeaders: true,
        topics: ['a', 'b'].map((s) => ({ topic: `${prefix}.${s}`, numPartitions: 2, replicationFactor: 1 })),
      });
      created.push(...['a', 'b', 'c', 'd', 'x', '_other'].map((s) => `${prefix}.${s}`));
      const options = kafkaBusOptions.parse({
        client,
        brokers: SHARED_BROKERS,
        topic: `${prefix}.{service}`,
        topic_max_distinct: 1,
        producer: { compression: 'none', partitions: 2, replication_factor: 1 },
      });
      const { logger, lines } = captureLogger();
      const first = new KafkaBus(options, { name: 'bus', logger }).producer();
      await first.open();
      // Its own first combination gets a topic (the existing ones took no place), the next overflows.
      await first.send([event('c1', 'c'), event('a1', 'a'), event('x1', 'x')]);
      await first.close();

      // The agent restarted: c1 comes again from its disk channel (its commit was lost); c now
      // has a topic, so it is admitted as it was, and the agent still has its one place.
      const second = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger }).producer();
      await second.open();
      await second.send([event('c1', 'c'), event('d1', 'd'), event('a2', 'a'), event('b1', 'b')]);
      await second.close();

      expect(await idsByTopic(admin, prefix)).toEqual({
        [`${prefix}.a`]: ['a1', 'a2'],
        [`${prefix}.b`]: ['b1'],
        [`${prefix}.c`]: ['c1', 'c1'],
        [`${prefix}.d`]: ['d1'],
        [`${prefix}._other`]: ['x1'],
      });
      expect(lines.filter((l) => l.msg === 'admitted the value combinations of the existing topics')).toMatchObject([
        { topic: `${prefix}.{service}`, topics: 2, topic_max_distinct: 1 },
      ]);
    } finally {
      await admin.disconnect();
    }
  });
  it('keeps its decisions in its data directory: after a restart an overflowed combination stays on _other, and its own count stays', async () => {
    const prefix = `sluice-kept-${client}-${process.pid}-${Date.now()}`;
    const tmp = await tempDir('topic-decisions');
    const admin = kafka.admin();
    await admin.connect();
    try {
      created.push(...['c', 'd', 'x', '_other'].map((s) => `${prefix}.${s}`));
      const options = kafkaBusOptions.parse({
        client,
        brokers: SHARED_BROKERS,
        topic: `${prefix}.{service}`,
        topic_max_distinct: 1,
        producer: { compression: 'none', partitions: 2, replication_factor: 1 },
      });
      const first = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger, dataDir: tmp.dir }).producer();
      await first.open();
      await first.send([event('c1', 'c'), event('x1', 'x')]);
      await first.close();

      // Meanwhile another agent, with room, made a topic for x.
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${prefix}.x`, numPartitions: 2, replicationFactor: 1 }] });
      // Restarted, x1 comes again from the disk channel: it goes where its first copy went. c
      // has its topic, but it is this agent's own: d finds no place.
      const second = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger, dataDir: tmp.dir }).producer();
      await second.open();
      await second.send([event('x1', 'x'), event('d1', 'd'), event('c2', 'c')]);
      await second.close();

      expect(await idsByTopic(admin, prefix)).toEqual({
        [`${prefix}.c`]: ['c1', 'c2'],
        [`${prefix}.x`]: [],
        [`${prefix}._other`]: ['d1', 'x1', 'x1'],
      });
    } finally {
      await admin.disconnect();
      await tmp.cleanup();
    }
  });

  it("shortens a name longer than Kafka's 249 characters keeping its literals: the collectors' subscription reads it", async () => {
    const prefix = `sluice-short-${client}-${process.pid}-${Date.now()}`;
    const template = `${prefix}.{service}.raw`;
    const long = 'x'.repeat(300);
    const topics = [new TopicNamer(template).name(event('l1', long)), `${prefix}.s.raw`];
    created.push(...topics);
    expect(topics[0]).toHaveLength(249);
    expect(topics[0]!.endsWith('.raw')).toBe(true);
    const options = kafkaBusOptions.parse({
      client,
      brokers: SHARED_BROKERS,
      topic: template,
      producer: { compression: 'none', partitions: 1, replication_factor: 1 },
      consumer: { group_id: `${prefix}-collectors`, max_wait: '100ms' },
    });
    const bus = new KafkaBus(options, { name: 'bus', logger: captureLogger().logger });
    const producer = bus.producer();
    await producer.open();
    await producer.send([event('l1', long), event('s1', 's')]);
    await producer.close();

    const read: Record<string, string[]> = {};
    const consumer = bus.consumer();
    await consumer.start(async (batch) => {
      for (const e of batch.events) (read[e.service] ??= []).push(e.id);
      await batch.ack();
    });
    try {
      await waitFor('both events read by the collectors', () => Object.values(read).flat().length >= 2, 60_000);
    } finally {
      await consumer.stop();
    }
    expect(read).toEqual({ [long]: ['l1'], s: ['s1'] });
  });
});

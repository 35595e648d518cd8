// The bus's producer, with each client, against the shared broker: a send cut into several requests, failing after
// some were acked, must not append those again when the rolled-back transaction comes back.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkaBus } from '../../bus/kafka/index.js';
import { kafkaBusOptions } from '../../bus/kafka/options.js';
import type { LogEvent } from '../../core/event.js';
import { FileDeadLetter } from '../../dead-letter/file/file-dead-letter.js';
import { KafkaDeadLetter } from '../../dead-letter/kafka/kafka-dead-letter.js';
import { silentLogger } from '../../core/log.js';
import { decodeEvent } from '../../core/wire.js';
import { captureLogger, waitFor } from '../support/index.js';
import { BUS_CLIENTS, QUIET, privateBroker, readTopicEvents, skipWhenMissing, topicsDeletedAfterAll } from './bus-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const kafka = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);

async function createTopic(admin: kafkajs.Admin, topic: string): Promise<void> {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] });
  created.push(topic);
}

/** Records in a topic: the sum of its partitions' high watermarks (no compaction, no transactions). */
async function records(admin: kafkajs.Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high), 0);
}

/**
 * Retries a send the way the forwarder (and the collector's dead-letter loop) does until it
 * is acked; returns the attempts it took. On a loaded machine a broker resumed from SIGSTOP
 * can take longer than request_timeout to answer the first one: a full test run once saw it
 * answer none of five (15 s), so it gets ten.
 */
async function sendUntilAcked(send: () => Promise<void>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return attempt;
    } catch (err) {
      if (attempt >= 10) throw err;
      expect((err as Error).message).toMatch(/not acked within 3000 ms/);
      // The forwarder's backoff: reports may come in between, while no send waits for them.
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * records() on a broker of its own. That broker was frozen with SIGSTOP: for a while after
 * SIGCONT it may answer "not the leader" for its partitions (its controller, in the same
 * process, re-registers it), so the count is asked again until it is answered.
 */
async function recordsOn(brokers: string, topic: string): Promise<number> {
  const admin = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await records(admin, topic);
      } catch (err) {
        if (attempt >= 30) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

const event = (n: number, service: string): LogEvent => ({
  id: `ev-${n}`,
  timestamp: 1_700_000_000_000 + n,
  message: `line ${n} ${'x'.repeat(150)}`,
  service,
  module: `m${n % 4}`,
  host: 'h',
  source: { kind: 'file', path: '/var/log/a.log', offset: n * 200 },
  fields: {},
});

describe.each(BUS_CLIENTS)('kafka producer [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('does not resend the requests Kafka acked when a later request of the same send failed', async () => {
    const prefix = `sluice-prod-${client}-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopic(admin, `${prefix}-a`);
      const options = kafkaBusOptions.parse({
        client,
        brokers,
        topic: `${prefix}-{service}`,
        // ~25 events per request; topic "b" does not exist and is not created, so the
        // requests after the first 100 events fail.
        producer: { compression: 'none', batch: { max_bytes: '6KiB' }, create_topics: false, request_timeout: '5s' },
      });
      const producer = new KafkaBus(options, { name: 'bus', logger: silentLogger() }).producer();
      await producer.open();
      const events = [
        ...Array.from({ length: 100 }, (_, i) => event(i, 'a')),
        ...Array.from({ length: 100 }, (_, i) => event(100 + i, 'b')),
      ];
      await expect(producer.send(events)).rejects.toThrow(/kafka produce failed/);
      expect(await records(admin, `${prefix}-a`)).toBeGreaterThan(0);
      await createTopic(admin, `${prefix}-b`);
      // The forwarder's retry: the same events, in the same order.
      await producer.send(events);
      await producer.close();
      expect(await records(admin, `${prefix}-a`)).toBe(100);
      expect(await records(admin, `${prefix}-b`)).toBe(100);
    } finally {
      await admin.disconnect();
    }
  });

  it('writes each record value byte for byte: short and multi-byte ones, and one larger than the encoding buffer', async () => {
    const topic = `sluice-prod-values-${client}-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopic(admin, topic);
    } finally {
      await admin.disconnect();
    }
    const options = kafkaBusOptions.parse({ client, brokers, topic, producer: { create_topics: false, batch: { max_bytes: '1MiB' } } });
    const producer = new KafkaBus(options, { name: 'bus', logger: silentLogger() }).producer();
    await producer.open();
    // 100,000 characters: beyond the 256 KiB the librdkafka producer encodes values in.
    const sizes = [0, 1, 150, 3000, 100_000, 17, 70_000];
    const events = sizes.map((n, i) => ({ ...event(i, 'a'), message: `${i}é😀${'v'.repeat(n)}` }));
    await producer.send(events);
    await producer.close();
    const seen = await readTopicEvents(kafka, topic, events.length, 30_000);
    expect(seen.size).toBe(events.length);
    for (const e of events) expect(seen.get(e.id)).toEqual(e);
  });

  it('places the records of a topic made again with fewer partitions on those it has, none lost (librdkafka: none twice)', async () => {
    const topic = `sluice-prod-remade-${client}-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 4, replicationFactor: 1 }] });
      created.push(topic);
      const options = kafkaBusOptions.parse({ client, brokers, topic, producer: { create_topics: false, compression: 'none' } });
      const { logger } = captureLogger();
      const producer = new KafkaBus(options, { name: 'bus', logger }).producer();
      await producer.open();
      await producer.send(Array.from({ length: 40 }, (_, i) => event(i, 'shop')));
      const before = await admin.fetchTopicOffsets(topic);
      // The modules were spread over more than the one partition the topic will have.
      expect(before.filter((p) => Number(p.high) > 0).length).toBeGreaterThan(1);

      await admin.deleteTopics({ topics: [topic] });
      await waitFor('topic deleted', async () => !(await admin.listTopics()).includes(topic), 30_000);
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
      // The forwarder's retries: the same events until a send succeeds.
      const later = Array.from({ length: 40 }, (_, i) => event(100 + i, 'shop'));
      let failures = 0;
      for (;;) {
        try {
          await producer.send(later);
          break;
        } catch (err) {
          expect((err as Error).message).toMatch(/kafka produce failed/);
          expect(++failures).toBeLessThan(20);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      await producer.close();
      const after = await admin.fetchTopicOffsets(topic);
      expect(after.map((p) => p.partition)).toEqual([0]);
      expect(new Set(await idsIn(topic, Number(after[0]!.high)))).toEqual(new Set(later.map((e) => e.id)));
      // kafkajs rejects a request on its first partition's error without saying which partitions
      // were appended, so the retry may append again what went to partition 0 (bus/kafka/README.md).
      if (client === 'librdkafka') expect(Number(after[0]!.high)).toBe(40);
      else expect(Number(after[0]!.high)).toBeLessThanOrEqual(80);
    } finally {
      await admin.disconnect();
    }
  });

  it('appends once what a frozen broker acked too late, though the send failed and came again twice', async (ctx) => {
    // kafkajs produces a send that came back with new sequence numbers: 300 records here.
    ctx.skip(client === 'kafkajs', 'kafkajs appends a send again when the broker acks it after request_timeout (bus/kafka/README.md)');
    // Its own broker: frozen with SIGSTOP, which would stall every other test on the shared one.
    const broker = privateBroker(`kafka-prod-stall-${client}`);
    try {
      await broker.start(QUIET);
      const topic = `sluice-prod-stall-${client}-${process.pid}-${Date.now()}`;
      const options = kafkaBusOptions.parse({
        client,
        brokers: broker.brokers,
        topic,
        producer: { compression: 'none', request_timeout: '3s', partitions: 2, replication_factor: 1 },
      });
      const { logger, lines } = captureLogger();
      const producer = new KafkaBus(options, { name: 'bus', logger }).producer();
      await producer.open();
      await producer.send(Array.from({ length: 100 }, (_, i) => event(i, 'a')));
      const pid = broker.pid()!;
      const later = Array.from({ length: 100 }, (_, i) => event(100 + i, 'a'));
      process.kill(pid, 'SIGSTOP');
      try {
        // Its requests reach the frozen broker's socket and wait there; the send gives up.
        await expect(producer.send(later)).rejects.toThrow(/kafka produce failed: 100 of 100 records not acked within 3000 ms/);
        // The forwarder's retry, the broker still frozen.
        await expect(producer.send(later)).rejects.toThrow(/kafka produce failed/);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // The broker appends what waited in its socket; the retry must not append it again.
      // It comes with 50 events more (the channel hands out what arrived meanwhile): those are produced.
      const more = Array.from({ length: 50 }, (_, i) => event(200 + i, 'a'));
      const attempts = await sendUntilAcked(() => producer.send([...later, ...more]));
      await producer.close();
      const waits = lines.filter((l) => String(l.msg).startsWith('waiting for the records librdkafka still holds'));
      const [retried, resumed, ...slowRetries] = waits.map((l) => [l.events, l.queued]);
      expect([retried, resumed]).toEqual([
        [100, 100],
        [150, 100],
      ]);
      // A broker slow to answer after SIGCONT fails that send too; a retry skips what was acked
      // and waits for what is still queued (bus/kafka/librdkafka/late-reports.test.ts has the cases).
      expect(slowRetries.length).toBeLessThanOrEqual(attempts - 1);
      expect(await recordsOn(broker.brokers, topic)).toBe(250);
    } finally {
      await broker.destroy();
    }
  });

  it('dead-letter: a write a frozen broker acked too late appends each entry once, though the collector wrote it three times', async (ctx) => {
    ctx.skip(client === 'kafkajs', 'kafkajs appends a write again when the broker acks it after request_timeout (bus/kafka/README.md)');
    const broker = privateBroker(`kafka-dl-stall-${client}`);
    try {
      await broker.start(QUIET);
      const topic = `sluice-dl-stall-${client}-${process.pid}-${Date.now()}`;
      const options = kafkaBusOptions.parse({
        client,
        brokers: broker.brokers,
        topic: 'unused',
        producer: { compression: 'none', request_timeout: '3s', partitions: 2, replication_factor: 1 },
      });
      const { logger, lines } = captureLogger();
      const bus = new KafkaBus(options, { name: 'bus', logger });
      // The broker refuses none of these entries for good: the file for refused ones is never opened.
      const refused = new FileDeadLetter(join(tmpdir(), `${topic}-refused.jsonl`), logger);
      const deadLetter = new KafkaDeadLetter(bus.recordWriter(topic), topic, refused, logger);
      // The collector's retry loop makes new entries for the same events each time.
      const entries = (from: number, to: number) =>
        Array.from({ length: to - from }, (_, i) => ({ reason: 'sinks.es: mapping conflict', event: event(from + i, 'a') }));
      await deadLetter.write(entries(0, 20));
      const pid = broker.pid()!;
      process.kill(pid, 'SIGSTOP');
      try {
        await expect(deadLetter.write(entries(20, 50))).rejects.toThrow(/30 of 30 records not acked within 3000 ms/);
        await expect(deadLetter.write(entries(20, 50))).rejects.toThrow(/30 of 30 records not acked within 3000 ms/);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const attempts = await sendUntilAcked(() => deadLetter.write(entries(20, 60)));
      await deadLetter.close();
      const waits = lines.filter((l) => String(l.msg).startsWith('waiting for the dead-letter records librdkafka still holds'));
      const [retried, resumed, ...slowRetries] = waits.map((l) => [l.records, l.queued]);
      expect([retried, resumed]).toEqual([
        [30, 30],
        [40, 30],
      ]);
      expect(slowRetries.length).toBeLessThanOrEqual(attempts - 1);
      expect(await recordsOn(broker.brokers, topic)).toBe(60);
    } finally {
      await broker.destroy();
    }
  });

  it('logs what is configured at open and "connected" once, when the first send really connects', async () => {
    const topic = `sluice-prod-log-${client}-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopic(admin, topic);
      const { logger, lines } = captureLogger();
      const options = kafkaBusOptions.parse({ client, brokers, topic, producer: { create_topics: false } });
      const producer = new KafkaBus(options, { name: 'bus', logger }).producer();
      await producer.open();
      const texts = () => lines.map((l) => l.msg);
      expect(texts()).toContain('kafka producer configured; connects on the first send');
      expect(texts()).not.toContain('kafka producer connected');
      await producer.send([event(1, 'a')]);
      await producer.send([event(2, 'a')]);
      await producer.close();
      const connected = lines.filter((l) => l.msg === 'kafka producer connected');
      expect(connected).toHaveLength(1);
      expect(connected[0]!.brokers).toEqual(options.brokers);
      expect(await records(admin, topic)).toBe(2);
    } finally {
      await admin.disconnect();
    }
  });

  it.each([
    { keyed: false, producer: {} },
    { keyed: true, producer: { key: '{service}/{module}' } },
  ])(
    'writes each event as one record: wire value, service and module headers, placed by {service}/{module}; keyed $keyed',
    async ({ keyed, producer: placing }) => {
      const topic = `sluice-prod-rec-${client}-${keyed ? 'k' : 'n'}-${process.pid}-${Date.now()}`;
      const admin = kafka.admin();
      await admin.connect();
      const consumer = kafka.consumer({ groupId: `${topic}-check` });
      try {
        await createTopic(admin, topic);
        const options = kafkaBusOptions.parse({
          client,
          brokers,
          topic,
          producer: { create_topics: false, compression: 'none', ...placing },
        });
        const producer = new KafkaBus(options, { name: 'bus', logger: silentLogger() }).producer();
        await producer.open();
        // Two services, four modules each, and a non-ASCII module name: keys and headers are bytes.
        const events = Array.from({ length: 40 }, (_, i) => event(i, i < 20 ? 'shop' : 'café'));
        await producer.send(events);
        await producer.close();

        const seen: { key: string | null; service: string; module: string; partition: number; event: LogEvent }[] = [];
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message, partition }) => {
            seen.push({
              key: message.key?.toString() ?? null,
              service: message.headers!.service!.toString(),
              module: message.headers!.module!.toString(),
              partition,
              event: decodeEvent(message.value!),
            });
          },
        });
        await waitFor('every record consumed', () => seen.length >= events.length, 30_000);
        expect(seen).toHaveLength(events.length);
        expect(seen.map((r) => r.event).sort((a, b) => a.timestamp - b.timestamp)).toEqual(events);
        for (const r of seen) {
          expect(r.key).toBe(keyed ? `${r.event.service}/${r.event.module}` : null);
          expect([r.service, r.module]).toEqual([r.event.service, r.event.module]);
        }
        // One module, one partition: the one Kafka's keyed partitioner (murmur2) gives its key, with or without the key.
        const partitionOf = new Map<string, Set<number>>();
        for (const r of seen) {
          const place = `${r.event.service}/${r.event.module}`;
          partitionOf.set(place, (partitionOf.get(place) ?? new Set()).add(r.partition));
        }
        expect(partitionOf.size).toBe(8);
        for (const [place, partitions] of partitionOf) expect([...partitions]).toEqual([keyedPartition(place, 2)]);
        // Both partitions are used, or the check above could not tell placement from chance.
        expect(new Set(seen.map((r) => r.partition)).size).toBe(2);
      } finally {
        await consumer.disconnect();
        await admin.disconnect();
      }
    },
  );
});

/** The event ids of the first `count` records of a topic. */
async function idsIn(topic: string, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `${topic}-ids-${Date.now()}` });
  const ids: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void ids.push(decodeEvent(message.value!).id) });
    await waitFor(`${count} records of ${topic} consumed`, () => ids.length >= count, 30_000);
    return ids;
  } finally {
    await consumer.disconnect();
  }
}

/** Where the Java client's default partitioner puts a record keyed `key` (kafkajs's default partitioner is that one). */
function keyedPartition(key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  return kafkajs.Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key, value: 'v' } });
}

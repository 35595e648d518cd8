// Sluice's librdkafka producer addon against the shared broker: what the bus's producers rely
// on, through the same NativeProducer interface the binding had (connect, produce with
// partition, key and headers, delivery reports, metadata, topic creation, flush, close).
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { SHARED_BROKERS, topicsDeletedAfterAll } from '../../../../test/integration/bus-harness.js';
import { waitFor } from '../../../../test/support/index.js';
import { probeLibrdkafka } from '../../client.js';
import { type HeaderList, ProduceBatch } from '../produce-batch.js';
import { HEADER_SETS_MAX } from './native-producer.js';
import { type DeliveryReport, loadNative, type NativeError, type NativeProducer, releaseFailedConnect } from '../native.js';

const librdkafka = probeLibrdkafka();
const kafka = new kafkajs.Kafka({ brokers: SHARED_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);

function producer(extra: Record<string, string | number | boolean> = {}): NativeProducer {
  return new (loadNative().Producer)({
    'bootstrap.servers': SHARED_BROKERS,
    'enable.idempotence': true,
    acks: 'all',
    'linger.ms': 5,
    'message.timeout.ms': 0,
    dr_cb: true,
    ...extra,
  });
}

const connect = (p: NativeProducer, timeout = 10_000) =>
  new Promise<void>((resolve, reject) => p.connect({ timeout }, (err) => (err ? reject(err) : resolve())));
const disconnect = (p: NativeProducer) => new Promise<void>((resolve) => p.disconnect(() => resolve()));

interface ReadRecord {
  partition: number;
  key: string | null;
  service: string;
  module: string;
}

/**
 * Reads `topic` back from its start until `expected` records (`record-N` values) came, each
 * once; `order`: the Ns of each partition as read.
 */
async function readBack(topic: string, expected: number): Promise<{ seen: Map<string, ReadRecord>; order: Map<number, number[]> }> {
  const seen = new Map<string, ReadRecord>();
  const order = new Map<number, number[]>();
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = message.value!.toString();
      expect(seen.has(value)).toBe(false);
      if (!order.has(partition)) order.set(partition, []);
      order.get(partition)!.push(Number(value.slice('record-'.length)));
      seen.set(value, {
        partition,
        key: message.key ? message.key.toString() : null,
        service: String(message.headers!.service),
        module: String(message.headers!.module),
      });
    },
  });
  await waitFor(`${expected} records read back`, () => seen.size >= expected, 60_000);
  await consumer.disconnect();
  expect(seen.size).toBe(expected);
  return { seen, order };
}

/** Connects, makes `topic`, and collects each sequence number's report (failing on a second one). */
async function connectWithTopic(p: NativeProducer, topic: string, partitions: number): Promise<Map<number, NativeError | null>> {
  const reports = new Map<number, NativeError | null>();
  p.on('delivery-report', (err, report: DeliveryReport) => {
    const seq = report.opaque as number;
    expect(reports.has(seq)).toBe(false);
    reports.set(seq, err);
  });
  await connect(p);
  await new Promise<void>((resolve, reject) =>
    loadNative()
      .AdminClient.createFrom(p)
      .createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 10_000, (err) => (err ? reject(err) : resolve())),
  );
  created.push(topic);
  return reports;
}

describe.skipIf(!librdkafka.installed)(`librdkafka producer addon${librdkafka.installed ? '' : ` — SKIPPED: ${librdkafka.reason}`}`, () => {
  it('delivers every record once, with its partition, key and headers, and reports each sequence number once', async () => {
    const topic = `sluice-addon-${process.pid}-${Date.now()}`;
    const p = producer();
    const reports = await connectWithTopic(p, topic, 3);
    const headers: Record<string, Buffer>[][] = [
      [{ service: Buffer.from('checkout') }, { module: Buffer.from('api') }],
      [{ service: Buffer.from('search') }, { module: Buffer.from('db') }],
    ];
    const scratch = Buffer.alloc(64);
    const count = 30_000;
    for (let i = 0; i < count; i++) {
      // One scratch buffer for every value: the addon copies before produce returns.
      const n = scratch.write(`record-${i}`);
      p.produce(
        topic,
        i % 3,
        new Uint8Array(scratch.buffer, scratch.byteOffset, n),
        i % 2 ? Buffer.from(`k${i % 7}`) : null,
        null,
        1_000_000 + i,
        headers[i % 2],
      );
    }
    await waitFor(`${count} delivery reports`, () => reports.size === count, 30_000);
    expect([...reports.values()].filter((e) => e !== null)).toEqual([]);
    expect(Math.min(...reports.keys())).toBe(1_000_000);
    expect(Math.max(...reports.keys())).toBe(1_000_000 + count - 1);
    await disconnect(p);

    const { seen } = await readBack(topic, count);
    for (const i of [0, 1, 2, 12_345, count - 1])
      expect(seen.get(`record-${i}`)).toEqual({
        partition: i % 3,
        key: i % 2 ? `k${i % 7}` : null,
        service: i % 2 ? 'search' : 'checkout',
        module: i % 2 ? 'db' : 'api',
      });
  }, 120_000);

  it('produceBatch: hands records over in order with their keys, headers and sequences; one too large fails alone; a bad layout is refused', async () => {
    const topic = `sluice-addon-batch-${process.pid}-${Date.now()}`;
    const p = producer({ 'message.max.bytes': 10_000 });
    const reports = await connectWithTopic(p, topic, 2);
    const headers: HeaderList[] = [
      [{ service: Buffer.from('checkout') }, { module: Buffer.from('api') }],
      [{ service: Buffer.from('search') }, { module: Buffer.from('db') }],
    ];
    const batch = new ProduceBatch();
    const count = 3000;
    const tooLarge = 1234;
    // Three batches' worth of records in one: the buffers grow.
    for (let i = 0; i < count; i++)
      batch.add(
        topic,
        i % 2,
        i === tooLarge ? 'x'.repeat(20_000) : `record-${i}`,
        i % 3 ? Buffer.from(`k${i % 5}`) : null,
        headers[i % 2],
        i,
      );
    const first = p.produceBatch(batch, 0, 5_000_000);
    expect(first.next).toBe(tooLarge);
    expect(first.error?.code).toBe(10); // MSG_SIZE_TOO_LARGE
    expect(p.produceBatch(batch, tooLarge + 1, 5_000_000)).toEqual({ next: count, error: null });
    await waitFor(`${count - 1} delivery reports`, () => reports.size === count - 1, 30_000);
    expect([...reports.values()].filter((e) => e !== null)).toEqual([]);
    expect(reports.has(5_000_000 + tooLarge)).toBe(false);
    expect([...reports.keys()].sort((a, b) => a - b).at(-1)).toBe(5_000_000 + count - 1);

    // Bad input names what is wrong and produces nothing.
    batch.clear();
    batch.add(topic, 0, 'fine', null, undefined, 0);
    batch.layout[2] = 1 << 30;
    expect(() => p.produceBatch(batch, 0, 0)).toThrow(/out of range/);
    expect(() => p.produceBatch(batch, 2, 0)).toThrow(/too short/);
    await disconnect(p);
    expect(() => p.produceBatch(batch, 0, 0)).toThrow(/closed/);

    const { seen, order } = await readBack(topic, count - 1);
    // Each partition in the order handed over.
    expect([...order.keys()].sort()).toEqual([0, 1]);
    for (const o of order.values()) expect(o).toEqual([...o].sort((a, b) => a - b));
    for (const i of [0, 1, 2, tooLarge - 1, tooLarge + 1, count - 1])
      expect(seen.get(`record-${i}`)).toEqual({
        partition: i % 2,
        key: i % 3 ? `k${i % 5}` : null,
        service: i % 2 ? 'search' : 'checkout',
        module: i % 2 ? 'db' : 'api',
      });
  }, 120_000);

  it('produceBatch: more distinct header arrays than the addon keeps (a producer whose header cache started over) still send their own headers', async () => {
    const topic = `sluice-addon-headers-${process.pid}-${Date.now()}`;
    const p = producer();
    const reports = await connectWithTopic(p, topic, 1);
    const batch = new ProduceBatch();
    const count = HEADER_SETS_MAX + 1500;
    for (let from = 0; from < count; from += 1000) {
      for (let i = from; i < Math.min(count, from + 1000); i++)
        batch.add(topic, 0, `record-${i}`, null, [{ service: Buffer.from(`s${i}`) }, { module: Buffer.from(`m${i}`) }], i);
      expect(p.produceBatch(batch, 0, 0)).toEqual({ next: batch.count, error: null });
      batch.clear();
    }
    await waitFor(`${count} delivery reports`, () => reports.size === count, 30_000);
    expect([...reports.values()].filter((e) => e !== null)).toEqual([]);
    await disconnect(p);
    const { seen } = await readBack(topic, count);
    for (let i = 0; i < count; i++)
      expect(seen.get(`record-${i}`), `record-${i}`).toEqual({ partition: 0, key: null, service: `s${i}`, module: `m${i}` });
  }, 120_000);

  it('lists topics, tells a topic it does not know, and says a topic exists already', async () => {
    const topic = `sluice-addon-meta-${process.pid}-${Date.now()}`;
    const p = producer({ 'allow.auto.create.topics': false });
    await connect(p);
    const metadata = (t?: string) =>
      new Promise<{ name: string; partitions: number }[]>((resolve, reject) =>
        p.getMetadata({ topic: t, timeout: 10_000 }, (err, m) =>
          err ? reject(err) : resolve(m.topics.map((x) => ({ name: x.name, partitions: x.partitions.length }))),
        ),
      );
    expect(await metadata(topic)).toEqual([{ name: topic, partitions: 0 }]);
    const admin = loadNative().AdminClient.createFrom(p);
    const create = () =>
      new Promise<NativeError | null>((resolve) => admin.createTopic({ topic, num_partitions: 2, replication_factor: 1 }, 10_000, resolve));
    expect(await create()).toBeNull();
    created.push(topic);
    expect(await create()).toMatchObject({ code: 36 });
    expect(await metadata(topic)).toEqual([{ name: topic, partitions: 2 }]);
    expect((await metadata()).map((t) => t.name)).toContain(topic);
    await disconnect(p);
    expect(() => p.produce(topic, 0, Buffer.from('late'), null, null, 1)).toThrow('librdkafka producer closed');
  }, 60_000);

  it('fails a connect to brokers that do not answer within its timeout, with librdkafka code, and is released', async () => {
    const p = producer({ 'bootstrap.servers': '127.0.0.1:1', 'socket.connection.setup.timeout.ms': 1000 });
    const errors: NativeError[] = [];
    p.on('event.error', (err) => errors.push(err));
    const started = Date.now();
    const err = await connect(p, 500).then(
      () => undefined,
      (e: NativeError) => e,
    );
    expect(err?.code).toBeTypeOf('number');
    expect(err?.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    releaseFailedConnect(p);
    await disconnect(p);
  });
});

// `npm run bench -- bus`: the Kafka bus on the real broker of test/services.
//   produce: memory channel -> forwarder -> KafkaProducer (acks=all, idempotent), ~200-byte events
//   consume: KafkaConsumer (group, decode, commit after ack) -> collector -> a sink that discards
//   limits:  produce: Kafka's own ProducerPerformance (Java client, acks=all, idempotent) on the
//            same broker, same record size, same partitions, batches as large as ours, run
//            right after ours so both see the same load; and kafkajs alone (the same records
//            already encoded, the same keys and request sizes), the ceiling of any producer
//            built on kafkajs;
//            consume: kafkajs alone (the same fetch settings, eachBatch doing nothing), the
//            ceiling of any consumer built on kafkajs.
// The machine is shared: besides wall-clock MiB/s, each phase reports MiB per CPU-second of
// this process (*_mib_per_cpu_s), which load from other processes barely moves.
// Last line: {"bench":"bus","produce_mib_per_s":…,"consume_mib_per_s":…,"limit_produce_mib_per_s":…,…}
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import kafkajs from 'kafkajs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KafkaProducer } from '../agent/bus/kafka/producer.js';
import { MemoryChannel } from '../agent/channel/memory/index.js';
import { Forwarder } from '../agent/forwarder.js';
import { KafkaConsumer } from '../collector/bus/kafka/consumer.js';
import { Collector } from '../collector/collector.js';
import { createKafka, kafkaBusOptions, type KafkaBusOptions } from '../core/bus/kafka-options.js';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { encodeEvent } from '../core/wire.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EVENTS = Number(process.env.BENCH_BUS_EVENTS ?? 400_000);
const RECORD_BYTES = 200;
const PARTITIONS = 4;
/** The Java client warms up (JIT) within the run: give it enough records that this is a small part. */
const JAVA_RECORDS = Math.max(EVENTS, 1_000_000);
const MiB = 1024 * 1024;

interface Phase {
  seconds: number;
  cpuSeconds: number;
}

function since(t0: bigint, c0: NodeJS.CpuUsage): Phase {
  const c = process.cpuUsage(c0);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (c.user + c.system) / 1e6 };
}

interface Services {
  acquire(): Promise<{ kafkaBrokers: string; release(): Promise<void> }>;
}

function makeEvents(n: number): { events: LogEvent[]; bytes: number } {
  const events: LogEvent[] = [];
  let bytes = 0;
  const base = { timestamp: 1_700_000_000_000, host: 'bench-host', source: { kind: 'file', path: '/var/log/app/api.log' }, fields: {} };
  const probe = encodeEvent({ ...base, id: 'x'.repeat(16), message: '', service: 'shop', module: 'api0' }).length;
  for (let i = 0; i < n; i++) {
    const id = i.toString(16).padStart(16, '0');
    const message = `GET /api/items/${i} 200 `.padEnd(RECORD_BYTES - probe, 'x');
    const e: LogEvent = { ...base, id, message, service: 'shop', module: `api${i % 8}` };
    events.push(e);
    bytes += encodeEvent(e).length;
  }
  return { events, bytes };
}

async function produce(brokers: string, topic: string, events: LogEvent[]): Promise<Phase> {
  const options = kafkaBusOptions.parse({
    brokers,
    topic,
    producer: { compression: 'none', batch_events: 10_000, linger: 0, partitions: PARTITIONS, replication_factor: 1 },
  });
  const logger = silentLogger();
  const channel = new MemoryChannel({ maxEvents: events.length + 1, maxBytes: 4 * 1024 * MiB }, 'bench', logger);
  await channel.open();
  for (let i = 0; i < events.length; i += 10_000) await channel.put(events.slice(i, i + 10_000));
  const producer = new KafkaProducer(options, logger);
  await producer.open();
  // Topic creation and the first connection are not part of the throughput.
  await producer.send(events.slice(0, 1));
  const forwarder = new Forwarder(channel, producer, logger, { batchEvents: options.producer.batch_events, lingerMs: 0 });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  forwarder.start();
  while (forwarder.forwarded < events.length) await new Promise((r) => setTimeout(r, 5));
  const phase = since(t0, c0);
  await forwarder.stop();
  await producer.close();
  await channel.close();
  return phase;
}

/** kafkajs alone: the same records, already encoded, keyed and cut into requests as KafkaProducer does, sent one request at a time. */
async function produceKafkajs(brokers: string, topic: string, events: LogEvent[]): Promise<Phase> {
  const options = kafkaBusOptions.parse({ brokers, topic });
  const kafka = createKafka(options, silentLogger(), '-bench');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ value: 'warm-up' }] });
  const requests: kafkajs.Message[][] = [];
  let request: kafkajs.Message[] = [];
  let bytes = 0;
  for (const e of events) {
    const value = encodeEvent(e);
    if (bytes + value.length > options.producer.batch_bytes) {
      requests.push(request);
      request = [];
      bytes = 0;
    }
    request.push({ key: `${e.service}/${e.module}`, value });
    bytes += value.length;
  }
  requests.push(request);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (const messages of requests) await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  const phase = since(t0, c0);
  await producer.disconnect();
  return phase;
}

function consumerOptions(brokers: string, topic: string, group: string): KafkaBusOptions {
  return kafkaBusOptions.parse({ brokers, topic, consumer: { group_id: group, max_wait: '100ms', partitions_concurrently: PARTITIONS } });
}

/** Kafka -> KafkaConsumer -> Collector (router, ack after every sink wrote) -> a sink that discards. */
async function consume(brokers: string, topic: string, expected: number): Promise<Phase> {
  const logger = silentLogger();
  const consumer = new KafkaConsumer(consumerOptions(brokers, topic, `${topic}-bench`), logger, undefined);
  let seen = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const sink = {
    open: async () => {},
    close: async () => {},
    write: async (batch: readonly LogEvent[]) => {
      seen += batch.length;
      if (seen >= expected) done();
    },
  };
  const collector = new Collector(consumer, [{ name: 'null', sink }], logger);
  // The clock starts before the group join: kafkajs decodes a whole fetch before the first
  // batch is handed over, so starting at the first batch would leave that decoding out.
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  await collector.start();
  await finished;
  const phase = since(t0, c0);
  await collector.stop();
  return phase;
}

/** kafkajs alone, with the fetch settings our consumer uses: eachBatch only counts. */
async function consumeKafkajs(brokers: string, topic: string, expected: number): Promise<Phase> {
  const options = consumerOptions(brokers, topic, `${topic}-kafkajs`);
  const c = options.consumer;
  const consumer = createKafka(options, silentLogger(), '-bench').consumer({
    groupId: c.group_id,
    maxBytesPerPartition: c.max_bytes_per_partition,
    maxBytes: c.max_bytes,
    maxWaitTimeInMs: c.max_wait,
  });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    partitionsConsumedConcurrently: c.partitions_concurrently,
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      if (seen >= expected) done();
    },
  });
  await finished;
  const phase = since(t0, c0);
  await consumer.disconnect();
  return phase;
}

async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
  } finally {
    await admin.disconnect();
  }
}

async function deleteTopics(brokers: string, topics: string[]): Promise<void> {
  const admin = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

function javaLimit(brokers: string, topic: string, records: number): number {
  const r = spawnSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      join(ROOT, 'var/services/kafka/libs/*'),
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(RECORD_BYTES),
      '--throughput',
      '-1',
      // Batches up to 256 KiB per partition, like our ~900 KiB requests over 4 partitions;
      // the client defaults (16 KiB, linger 0) measure per-request overhead, not the broker.
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
      'enable.idempotence=true',
      'compression.type=none',
      'batch.size=262144',
      'linger.ms=5',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  // Final line: "N records sent, R records/sec (X MB/sec), ..." where MB is 2^20 bytes.
  const m = /records sent, [\d.]+ records\/sec \(([\d.]+) MB\/sec\)/.exec(r.stdout ?? '');
  if (!m) throw new Error(`ProducerPerformance gave no result: ${(r.stderr || r.stdout || String(r.error)).slice(-1000)}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const services = (await import(pathToFileURL(join(ROOT, 'test/services/services.mjs')).href)) as Services;
  const session = await services.acquire();
  try {
    const brokers = session.kafkaBrokers;
    const load = loadavg()[0]!;
    const topic = `sluice-bench-${process.pid}-${Date.now()}`;
    const javaTopic = `${topic}-java`;
    const kafkajsTopic = `${topic}-kafkajs`;
    const { events, bytes } = makeEvents(EVENTS);
    const mib = bytes / MiB;
    try {
      const produced = await produce(brokers, topic, events);
      await createTopic(brokers, javaTopic);
      const limit = javaLimit(brokers, javaTopic, JAVA_RECORDS);
      const kafkajsProduced = await produceKafkajs(brokers, kafkajsTopic, events);
      const consumed = await consume(brokers, topic, EVENTS + 1);
      const kafkajsAlone = await consumeKafkajs(brokers, topic, EVENTS + 1);
      const result = {
        bench: 'bus',
        events: EVENTS,
        event_bytes: Math.round(bytes / EVENTS),
        load_average: round(load),
        produce_mib_per_s: round(mib / produced.seconds),
        limit_produce_mib_per_s: limit,
        limit_produce_kafkajs_mib_per_s: round(mib / kafkajsProduced.seconds),
        consume_mib_per_s: round(mib / consumed.seconds),
        limit_consume_kafkajs_mib_per_s: round(mib / kafkajsAlone.seconds),
        produce_mib_per_cpu_s: round(mib / produced.cpuSeconds),
        kafkajs_produce_mib_per_cpu_s: round(mib / kafkajsProduced.cpuSeconds),
        consume_mib_per_cpu_s: round(mib / consumed.cpuSeconds),
        kafkajs_consume_mib_per_cpu_s: round(mib / kafkajsAlone.cpuSeconds),
      };
      console.error(
        `produce ${(EVENTS / produced.seconds).toFixed(0)} events/s (kafkajs alone ${(EVENTS / kafkajsProduced.seconds).toFixed(0)}), consume ${(EVENTS / consumed.seconds).toFixed(0)} events/s (kafkajs alone ${(EVENTS / kafkajsAlone.seconds).toFixed(0)}), java producer ${limit} MiB/s, load average ${load.toFixed(1)}`,
      );
      console.log(JSON.stringify(result));
    } finally {
      await deleteTopics(brokers, [topic, javaTopic, kafkajsTopic]).catch(() => undefined);
    }
  } finally {
    await session.release();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

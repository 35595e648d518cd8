// `npm run bench -- bus`: the Kafka bus on the real broker of test/services.
//   produce: memory channel -> forwarder -> KafkaProducer (acks=all, idempotent), ~200-byte events
//   consume: KafkaConsumer (group, decode, commit after ack) -> a sink that discards
//   limit:   Kafka's own ProducerPerformance (Java client, acks=all) on the same broker, same record size
// Last line: {"bench":"bus","produce_mib_per_s":…,"consume_mib_per_s":…,"limit_produce_mib_per_s":…}
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KafkaProducer } from '../agent/bus/kafka/producer.js';
import { MemoryChannel } from '../agent/channel/memory/index.js';
import { Forwarder } from '../agent/forwarder.js';
import { KafkaConsumer } from '../collector/bus/kafka/consumer.js';
import { kafkaBusOptions } from '../core/bus/kafka-options.js';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { encodeEvent } from '../core/wire.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EVENTS = Number(process.env.BENCH_BUS_EVENTS ?? 400_000);
const RECORD_BYTES = 200;
const MiB = 1024 * 1024;

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

async function produce(brokers: string, topic: string, events: LogEvent[]): Promise<number> {
  const options = kafkaBusOptions.parse({ brokers, topic, producer: { compression: 'none', batch_events: 10_000, linger: 0, partitions: 4, replication_factor: 1 } });
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
  forwarder.start();
  while (forwarder.forwarded < events.length) await new Promise((r) => setTimeout(r, 5));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await forwarder.stop();
  await producer.close();
  await channel.close();
  return seconds;
}

async function consume(brokers: string, topic: string, expected: number): Promise<number> {
  const options = kafkaBusOptions.parse({ brokers, topic, consumer: { group_id: `${topic}-bench`, max_wait: 100, partitions_concurrently: 4 } });
  const consumer = new KafkaConsumer(options, silentLogger(), undefined);
  let seen = 0;
  let t0: bigint | undefined;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  await consumer.start(async (batch) => {
    t0 ??= process.hrtime.bigint();
    seen += batch.events.length;
    await batch.ack();
    if (seen >= expected) done();
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - t0!) / 1e9;
  await consumer.stop();
  return seconds;
}

function javaLimit(brokers: string, topic: string, records: number): number {
  const r = spawnSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      join(ROOT, 'var/services/kafka/libs/*'),
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic', topic,
      '--num-records', String(records),
      '--record-size', String(RECORD_BYTES),
      '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'enable.idempotence=true', 'compression.type=none',
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
    const topic = `sluice-bench-${process.pid}-${Date.now()}`;
    const { events, bytes } = makeEvents(EVENTS);
    const produceSeconds = await produce(brokers, topic, events);
    const consumeSeconds = await consume(brokers, topic, EVENTS + 1);
    const limit = javaLimit(brokers, `${topic}-java`, EVENTS);
    const result = {
      bench: 'bus',
      events: EVENTS,
      event_bytes: Math.round(bytes / EVENTS),
      produce_mib_per_s: round(bytes / MiB / produceSeconds),
      consume_mib_per_s: round(bytes / MiB / consumeSeconds),
      limit_produce_mib_per_s: limit,
    };
    console.error(`produce ${(EVENTS / produceSeconds).toFixed(0)} events/s, consume ${(EVENTS / consumeSeconds).toFixed(0)} events/s, java producer ${limit} MiB/s`);
    console.log(JSON.stringify(result));
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

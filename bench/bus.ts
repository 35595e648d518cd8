// `npm run bench -- bus`: the Kafka bus on the real broker of test/services, with each
// client (kafkajs always; librdkafka when installed).
//   produce: memory channel -> forwarder -> the bus's producer (acks=all, idempotent), ~200-byte events
//   consume: the bus's consumer (group, decode, commit after ack) -> collector -> a sink that
//            discards; in one worker process, and in two of one group (what `sluice
//            collector --workers 2` runs)
//   limit:   Kafka's own ProducerPerformance (Java client, acks=all, idempotent) on the same
//            broker, same record size, same partitions, batches as large as ours, run right
//            after our produce phases so that all see the same load.
//   alone:   the librdkafka client alone (bench/support/librdkafka-alone.ts), when installed:
//            produce of the same records' bytes made beforehand, with the bus's opaque and
//            headers, on Sluice's addon (what the bus runs on) and on the binding's own
//            producer (and bare: neither opaque nor headers); consume on the addon and on the
//            binding without decoding or committing. The bus's figures over the addon's
//            (produce_vs_addon, consume_vs_addon) are what Sluice itself costs; the client's
//            over Java's, what the client costs.
// Consume rates are taken over the steady window: from the moment every member of the group
// has delivered its first batch (the group has formed) to the last record, so the group
// join, which is the broker's initial rebalance delay more than anything of ours, is left out.
// The machine is shared: besides wall-clock MiB/s, each phase reports MiB per CPU-second of
// the processes doing the work (*_mib_per_cpu_s), which load from other processes barely moves.
// Last line: {"bench":"bus","clients":{"kafkajs":{...},"librdkafka":{...}},"limit_produce_mib_per_s":…,"librdkafka_alone":{...}}
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import kafkajs from 'kafkajs';
import { MemoryChannel } from '../agent/channel/memory/memory-channel.js';
import { Forwarder } from '../agent/forwarder.js';
import { javaProducerMibPerSec } from './support/java-producer.js';
import { type AlonePhase, consumeAlone, produceAlone } from './support/librdkafka-alone.js';
import { type KafkaClientName, probeLibrdkafka } from '../bus/kafka/client.js';
import { KafkaBus } from '../bus/kafka/index.js';
import { kafkaBusOptions } from '../bus/kafka/options.js';
import { Collector } from '../collector/collector.js';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { WRITTEN } from '../core/pipeline.js';
import { encodeEvent } from '../core/wire.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EVENTS = Number(process.env.BENCH_BUS_EVENTS ?? 400_000);
/** The consume phases read more, so that the steady window is long next to the group join. */
const CONSUME_EVENTS = 2 * EVENTS;
const RECORD_BYTES = 200;
/** Records per consume() call of the bare binding: the bus's consumer takes rounds of about 256 KiB, at most 1,000 records. */
const BINDING_CONSUME_ROUND = 1000;
const PARTITIONS = 4;
/** The Java client warms up (JIT) within the run: give it enough records that this is a small part. */
const JAVA_RECORDS = Math.max(EVENTS, 1_000_000);
const MiB = 1024 * 1024;

interface Phase {
  seconds: number;
  cpuSeconds: number;
}

interface Services {
  acquire(): Promise<{ kafkaBrokers: string; release(): Promise<void> }>;
  /** Where the provisioned Kafka lives (SLUICE_SERVICES_DIR, else var/services). */
  servicesDir(): string;
}

function makeEvents(n: number): { events: LogEvent[]; bytes: number } {
  const events: LogEvent[] = [];
  let bytes = 0;
  const source = { kind: 'file', path: '/var/log/app/api.log' };
  const fields = {};
  // One object literal with the keys in the order the sources and the disk channel's decoder
  // give them, so every event has one shape (map) as theirs do: built with a spread of a
  // shared base, the events had many, and every property read of the encoder missed V8's
  // inline caches (a fifth of the producer's CPU).
  const event = (id: string, message: string, module: string): LogEvent => ({
    id,
    timestamp: 1_700_000_000_000,
    message,
    service: 'shop',
    module,
    host: 'bench-host',
    source,
    fields,
  });
  const probe = encodeEvent(event('x'.repeat(16), '', 'api0')).length;
  for (let i = 0; i < n; i++) {
    const e = event(i.toString(16).padStart(16, '0'), `GET /api/items/${i} 200 `.padEnd(RECORD_BYTES - probe, 'x'), `api${i % 8}`);
    events.push(e);
    bytes += encodeEvent(e).length;
  }
  return { events, bytes };
}

function bus(client: KafkaClientName, brokers: string, topic: string, extra: Record<string, unknown> = {}): KafkaBus {
  return new KafkaBus(busOptions(client, brokers, topic, extra), { name: 'bus', logger: silentLogger() });
}

function busOptions(client: KafkaClientName, brokers: string, topic: string, extra: Record<string, unknown> = {}) {
  return kafkaBusOptions.parse({ client, brokers, topic, ...extra });
}

/** The producer options of the produce phases: what the client alone is given too. */
const PRODUCER = { compression: 'none', batch: { max_events: 10_000, timeout: '5ms' }, partitions: PARTITIONS, replication_factor: 1 };
/** The consumer options of the consume phases. */
/**
 * Heartbeats every 500 ms: a member learns that another joined at its next heartbeat, and with
 * the default 3 s the first member of the two-worker phase had read the whole topic by then
 * (no window with both members in the group).
 */
const CONSUMER = { max_wait: '100ms', partitions_concurrently: PARTITIONS, heartbeat_interval: '500ms' };

/** Memory channel -> forwarder -> producer; the clock runs from the first take to the last commit. */
async function produce(client: KafkaClientName, brokers: string, topic: string, events: LogEvent[]): Promise<Phase> {
  const logger = silentLogger();
  // Linger (batch.timeout) at the default, 5 ms, which is also what the Java run uses: with 0,
  // librdkafka sends smaller requests and produced a quarter less.
  const producer = bus(client, brokers, topic, { producer: PRODUCER }).producer();
  const channel = new MemoryChannel({ maxEvents: events.length + 1, maxBytes: 4 * 1024 * MiB }, 'bench', logger);
  await channel.open();
  for (let i = 0; i < events.length; i += 10_000) await channel.put(events.slice(i, i + 10_000));
  await producer.open();
  // Topic creation and the first connection are not part of the throughput.
  await producer.send(events.slice(0, 1));
  const forwarder = new Forwarder(channel, producer, logger, { batchEvents: 10_000, lingerMs: 0 });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  forwarder.start();
  while (forwarder.forwarded < events.length) await new Promise((r) => setTimeout(r, 5));
  const c = process.cpuUsage(c0);
  const phase = { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (c.user + c.system) / 1e6 };
  await forwarder.stop();
  await producer.close();
  await channel.close();
  return phase;
}

/** What a consuming process reports to the parent: events delivered so far and its CPU time. */
interface Progress {
  events: number;
  cpuSeconds: number;
}

/**
 * One group member: the bus's consumer -> collector -> a sink that discards. Reports its
 * progress through `report` after every batch; resolves once `stop` does.
 */
async function consumeMember(
  client: KafkaClientName,
  brokers: string,
  topic: string,
  group: string,
  report: (p: Progress) => void,
  stop: Promise<void>,
): Promise<void> {
  const logger = silentLogger();
  const consumer = bus(client, brokers, topic, { consumer: { ...CONSUMER, group_id: group } }).consumer();
  const c0 = process.cpuUsage();
  let seen = 0;
  const sink = {
    open: async () => {},
    close: async () => {},
    write: async (batch: readonly LogEvent[]) => {
      seen += batch.length;
      const c = process.cpuUsage(c0);
      report({ events: seen, cpuSeconds: (c.user + c.system) / 1e6 });
      return WRITTEN;
    },
  };
  const collector = new Collector(consumer, [{ name: 'null', sink }], logger);
  await collector.start();
  await stop;
  await collector.stop();
}

/**
 * `members` consumers of one group, each in a worker process (what `sluice collector
 * --workers N` runs; one alone too, so that the bench's own heap of events is not its garbage
 * collector's to walk: in this process it cost a third of the consumer's CPU), reading
 * `expected` events: the rate over the window from "every member has delivered" to the last event.
 */
async function consume(client: KafkaClientName, brokers: string, topic: string, expected: number, members: number): Promise<Phase> {
  const group = `${topic}-${client}-${members}-${Date.now()}`;
  const progress: Progress[] = Array.from({ length: members }, () => ({ events: 0, cpuSeconds: 0 }));
  let windowStart: { t: bigint; events: number; cpuSeconds: number } | undefined;
  let finished: () => void = () => {};
  const done = new Promise<void>((r) => (finished = r));
  let end: { t: bigint; events: number; cpuSeconds: number } | undefined;
  const update = (i: number, p: Progress) => {
    progress[i] = p;
    const total = progress.reduce((n, q) => n + q.events, 0);
    const cpu = progress.reduce((n, q) => n + q.cpuSeconds, 0);
    if (!windowStart && progress.every((q) => q.events > 0)) windowStart = { t: process.hrtime.bigint(), events: total, cpuSeconds: cpu };
    if (!end && total >= expected) {
      end = { t: process.hrtime.bigint(), events: total, cpuSeconds: cpu };
      finished();
    }
  };
  const script = fileURLToPath(import.meta.url);
  const children = Array.from({ length: members }, (_, i) => {
    const child = fork(script, ['member', client, brokers, topic, group], { stdio: 'inherit' });
    child.on('message', (p: Progress) => update(i, p));
    return child;
  });
  await done;
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((r) => {
          c.once('exit', () => r());
          c.send('stop');
        }),
    ),
  );
  if (!windowStart || !end || end.events === windowStart.events) throw new Error(`consume ${client} x${members}: no steady window`);
  const share = (end.events - windowStart.events) / expected;
  return {
    seconds: Number(end.t - windowStart.t) / 1e9 / share,
    cpuSeconds: (end.cpuSeconds - windowStart.cpuSeconds) / share,
  };
}

async function admin<T>(brokers: string, act: (a: kafkajs.Admin) => Promise<T>): Promise<T> {
  const a = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await a.connect();
  try {
    return await act(a);
  } finally {
    await a.disconnect();
  }
}

function createTopic(brokers: string, topic: string): Promise<boolean> {
  return admin(brokers, (a) =>
    a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] }),
  );
}

async function main(): Promise<void> {
  const services = (await import(pathToFileURL(join(ROOT, 'test/services/services.mjs')).href)) as Services;
  const session = await services.acquire();
  const prefix = `sluice-bench-${process.pid}-${Date.now()}`;
  const topics: string[] = [];
  const brokers = session.kafkaBrokers;
  try {
    const load = loadavg()[0]!;
    const probe = probeLibrdkafka();
    const clients: KafkaClientName[] = probe.installed ? ['kafkajs', 'librdkafka'] : ['kafkajs'];
    if (!probe.installed) console.error(`librdkafka not measured: ${probe.reason}`);
    const { events, bytes } = makeEvents(CONSUME_EVENTS);
    const produceEvents = events.slice(0, EVENTS);
    const eventBytes = bytes / CONSUME_EVENTS;
    const mib = (EVENTS * eventBytes) / MiB;
    const consumeMib = (CONSUME_EVENTS * eventBytes) / MiB;
    const results: Record<string, Record<string, number>> = {};
    const produced: Record<string, Phase> = {};
    for (const client of clients) {
      const topic = `${prefix}-${client}`;
      topics.push(topic);
      produced[client] = await produce(client, brokers, topic, produceEvents);
    }
    // The client alone, right after the bus's producers and before Java, under the same load.
    const alone: Record<string, AlonePhase> = {};
    if (probe.installed) {
      const records = produceEvents.map((e) => ({ value: encodeEvent(e), service: e.service, module: e.module }));
      for (const shape of ['addon', 'as-the-bus', 'bare'] as const) {
        const topic = `${prefix}-alone-${shape}`;
        topics.push(topic);
        await createTopic(brokers, topic);
        const options = busOptions('librdkafka', brokers, topic, { producer: PRODUCER });
        alone[shape] = await produceAlone(options, topic, PARTITIONS, records, shape, PRODUCER.batch.max_events);
      }
    }
    const javaTopic = `${prefix}-java`;
    topics.push(javaTopic);
    await createTopic(brokers, javaTopic);
    const limit = javaProducerMibPerSec({
      kafkaLibs: join(services.servicesDir(), 'kafka/libs/*'),
      brokers,
      topic: javaTopic,
      records: JAVA_RECORDS,
      recordBytes: RECORD_BYTES,
      compression: 'none',
      timeoutMs: 120_000,
    });
    // The consume topic: every client reads the same records (written untimed, by the fastest producer).
    const consumeTopic = `${prefix}-consume`;
    topics.push(consumeTopic);
    await produce(clients.at(-1)!, brokers, consumeTopic, events);
    // Let go: the consumer alone below runs in this process, and a heap of a million events made its garbage collector's work three times as long.
    events.length = 0;
    produceEvents.length = 0;
    for (const client of clients) {
      const one = await consume(client, brokers, consumeTopic, CONSUME_EVENTS + 1, 1);
      const two = await consume(client, brokers, consumeTopic, CONSUME_EVENTS + 1, 2);
      const p = produced[client]!;
      results[client] = {
        produce_mib_per_s: round(mib / p.seconds),
        produce_vs_java: round(mib / p.seconds / limit, 2),
        produce_mib_per_cpu_s: round(mib / p.cpuSeconds),
        consume_mib_per_s: round(consumeMib / one.seconds),
        consume_mib_per_cpu_s: round(consumeMib / one.cpuSeconds),
        consume_workers2_mib_per_s: round(consumeMib / two.seconds),
        consume_workers2_speedup: round(one.seconds / two.seconds, 2),
      };
      console.error(
        `${client}: produce ${(EVENTS / p.seconds).toFixed(0)} events/s, consume ${(CONSUME_EVENTS / one.seconds).toFixed(0)} events/s, with 2 workers ${(CONSUME_EVENTS / two.seconds).toFixed(0)} events/s`,
      );
    }
    let librdkafkaAlone: Record<string, number> | undefined;
    if (probe.installed) {
      const options = busOptions('librdkafka', brokers, consumeTopic, { consumer: { ...CONSUMER, group_id: 'unused' } });
      const consumed = await consumeAlone(options, consumeTopic, PARTITIONS, CONSUME_EVENTS + 1, BINDING_CONSUME_ROUND, 'binding');
      const addonConsumed = await consumeAlone(options, consumeTopic, PARTITIONS, CONSUME_EVENTS + 1, BINDING_CONSUME_ROUND, 'addon');
      const addon = alone.addon!;
      const binding = alone['as-the-bus']!;
      const bare = alone.bare!;
      librdkafkaAlone = {
        addon_produce_mib_per_s: round(mib / addon.seconds),
        addon_produce_mib_per_cpu_s: round(mib / addon.cpuSeconds),
        addon_produce_vs_java: round(mib / addon.seconds / limit, 2),
        binding_produce_mib_per_s: round(mib / binding.seconds),
        binding_produce_mib_per_cpu_s: round(mib / binding.cpuSeconds),
        bare_binding_produce_mib_per_s: round(mib / bare.seconds),
        bare_binding_produce_mib_per_cpu_s: round(mib / bare.cpuSeconds),
        binding_consume_mib_per_s: round(consumeMib / consumed.seconds),
        binding_consume_mib_per_cpu_s: round(consumeMib / consumed.cpuSeconds),
        addon_consume_mib_per_s: round(consumeMib / addonConsumed.seconds),
        addon_consume_mib_per_cpu_s: round(consumeMib / addonConsumed.cpuSeconds),
      };
      const ours = results.librdkafka!;
      ours.produce_vs_addon = round(ours.produce_mib_per_s! / librdkafkaAlone.addon_produce_mib_per_s!, 2);
      ours.consume_vs_addon = round(ours.consume_mib_per_s! / librdkafkaAlone.addon_consume_mib_per_s!, 2);
      console.error(
        `librdkafka alone: produce on the addon ${(EVENTS / addon.seconds).toFixed(0)} events/s, on the binding ${(EVENTS / binding.seconds).toFixed(0)} (bare ${(EVENTS / bare.seconds).toFixed(0)}), consume on the addon ${(CONSUME_EVENTS / addonConsumed.seconds).toFixed(0)} events/s, on the binding ${(CONSUME_EVENTS / consumed.seconds).toFixed(0)}`,
      );
    }
    console.error(`java producer ${limit} MiB/s, load average ${load.toFixed(1)}`);
    console.log(
      JSON.stringify({
        bench: 'bus',
        events: EVENTS,
        consume_events: CONSUME_EVENTS,
        event_bytes: Math.round(eventBytes),
        load_average: round(load),
        limit_produce_mib_per_s: limit,
        clients: results,
        ...(librdkafkaAlone ? { librdkafka_alone: librdkafkaAlone } : {}),
      }),
    );
  } finally {
    await admin(brokers, (a) => a.deleteTopics({ topics })).catch(() => undefined);
    await session.release();
  }
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

if (process.argv[2] === 'member') {
  // A worker process of a consume phase.
  const [, , , client, brokers, topic, group] = process.argv as string[];
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => (stop = r));
  process.on('message', () => stop());
  // Progress after every batch (thousands of events each): the parent needs the window's ends exactly.
  consumeMember(client as KafkaClientName, brokers!, topic!, group!, (p) => process.send?.(p), stopped).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
} else {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

// Records the broker refuses for good (here: larger than the topic's max.message.bytes) among thousands of
// normal ones, with each client, against the shared broker: the agent dead-letters them with their reason
// and every other event arrives exactly once; nothing is retried forever.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { MemoryChannel } from '../../agent/channel/memory/memory-channel.js';
import { KafkaBus } from '../../bus/kafka/index.js';
import { kafkaBusOptions } from '../../bus/kafka/options.js';
import { FileDeadLetter } from '../../dead-letter/file/file-dead-letter.js';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { decodeEvent } from '../../core/wire.js';
import { tempDir, waitFor } from '../support/index.js';
import { agentYaml, appendEvents, BUS_CLIENTS, readTopicEvents, skipWhenMissing, topicsDeletedAfterAll, workspace } from './bus-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const kafka = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);

const TOPIC_MAX_BYTES = 10 * 1024;

interface Run {
  events: number;
  /** Event n is twice what the topic takes when n % bigEvery === bigEvery / 2. */
  bigEvery: number;
  partitions: number;
  /** producer.batch.max_bytes */
  maxBytes: string;
}

const event = (n: number, isBig: (n: number) => boolean): LogEvent => ({
  id: `ev-${n}`,
  timestamp: 1_700_000_000_000 + n,
  message: isBig(n) ? `big ${n} ${'x'.repeat(2 * TOPIC_MAX_BYTES)}` : `line ${n} ${'y'.repeat(100)}`,
  service: `s${n % 3}`,
  module: `m${n % 4}`,
  host: 'h',
  source: { kind: 'file', path: '/var/log/a.log', offset: n * 200 },
  fields: {},
});

/** Reads the whole topic from the beginning: how many times each event id is in it. */
async function idsIn(topic: string, expected: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let records = 0;
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      records++;
      const id = decodeEvent(message.value!).id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    },
  });
  await waitFor(
    `${expected} records in ${topic}`,
    () => records >= expected,
    60_000,
    () => `${records} read`,
  );
  await consumer.disconnect();
  return seen;
}

/**
 * Runs an agent (memory channel, the bus's producer, a file dead-letter) over `run.events`
 * events into a new topic that takes at most TOPIC_MAX_BYTES per record batch, then checks
 * the topic holds every normal event once and the dead-letter every big one.
 */
async function refusedRun(client: string, run: Run): Promise<void> {
  const isBig = (n: number) => n % run.bigEvery === run.bigEvery / 2;
  const topic = `sluice-refused-${client}-${run.partitions}-${process.pid}-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  const tmp = await tempDir('refused');
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: run.partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_BYTES) }],
        },
      ],
    });
    created.push(topic);
    const deadLetterFile = join(tmp.dir, 'dead-letter', 'agent.jsonl');
    const deadLetter = new FileDeadLetter(deadLetterFile, silentLogger());
    const options = kafkaBusOptions.parse({
      client,
      brokers,
      topic,
      producer: { compression: 'none', batch: { max_events: 500, max_bytes: run.maxBytes }, create_topics: false, request_timeout: '10s' },
    });
    const producer = new KafkaBus(options, { name: 'bus', logger: silentLogger() }).producer({
      refused: (events) => deadLetter.write(events),
    });
    const channel = new MemoryChannel({ maxEvents: 100_000, maxBytes: 1 << 30 }, 'refused', silentLogger());
    const agent = new Agent(channel, [], producer, silentLogger(), { batchEvents: 500, drainTimeoutMs: 10_000, deadLetter });
    await agent.start();
    try {
      for (let from = 0; from < run.events; from += 100)
        await channel.put(Array.from({ length: Math.min(100, run.events - from) }, (_, i) => event(from + i, isBig)));
      // Every transaction committed: the refused events did not hold the channel back.
      await waitFor(
        'every event forwarded',
        () => agent.forwarded === run.events,
        120_000,
        () => `${agent.forwarded} forwarded`,
      );
    } finally {
      await agent.stop();
    }

    const big = Array.from({ length: run.events }, (_, n) => n).filter(isBig);
    const normal = run.events - big.length;
    const seen = await idsIn(topic, normal);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(normal);
    expect(seen.size).toBe(normal);
    expect([...seen.values()].every((times) => times === 1)).toBe(true);
    for (const n of big) expect(seen.has(`ev-${n}`)).toBe(false);

    const entries = readFileSync(deadLetterFile, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { reason: string; topic: string; bytes: number; event: LogEvent });
    expect(entries.map((e) => e.event.id).sort()).toEqual(big.map((n) => `ev-${n}`).sort());
    for (const e of entries) {
      expect(e.reason).toMatch(/^(MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE): kafka refused the record for good/);
      expect(e.topic).toBe(topic);
      expect(e.bytes).toBeGreaterThan(TOPIC_MAX_BYTES);
      expect(e.event.message).toMatch(/^big /);
    }
  } finally {
    await admin.disconnect();
    await tmp.cleanup();
  }
}

describe.each(BUS_CLIENTS)('agent dead-letter for records Kafka refuses [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('dead-letters the events too large for the topic with their reason, and delivers every other one exactly once', async () => {
    // Requests (kafkajs) and partition batches (librdkafka) below the topic's limit, as the
    // README asks: only a record larger than the limit is refused.
    await refusedRun(client, { events: 3000, bigEvery: 500, partitions: 3, maxBytes: '8KiB' });
  });

  it('delivers the records refused together with a too-large one in a batch larger than the topic takes', async () => {
    // One partition, so a request is one record batch: refused or appended as a whole.
    await refusedRun(client, { events: 150, bigEvery: 50, partitions: 1, maxBytes: '900KiB' });
  });
});

const ws = workspace('sluice-refused-');

describe.each(BUS_CLIENTS)('sluice agent with records Kafka refuses [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('keeps tailing: the too-large lines are in DATA_DIR/dead-letter/agent.jsonl, every other line in the topic once', async () => {
    const { dir, topic, logFile } = ws.setup(`cli-${client}`);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_BYTES) }] },
        ],
      });
      created.push(topic);
      // 1,000 lines; after lines 300 and 700, one of 20 KB each ("big-<n>"), random so that the
      // producer's gzip does not bring it under the limit.
      appendEvents(logFile, 0, 300);
      appendFileSync(logFile, `big-1 ${randomBytes(1.5 * TOPIC_MAX_BYTES).toString('base64')}\n`);
      appendEvents(logFile, 300, 400);
      appendFileSync(logFile, `big-2 ${randomBytes(1.5 * TOPIC_MAX_BYTES).toString('base64')}\n`);
      appendEvents(logFile, 700, 300);
      const agent = ws.start(
        'agent',
        dir,
        'agent',
        agentYaml({
          client,
          dataDir: join(dir, 'data'),
          logGlob: join(dir, 'logs', '*.log'),
          brokers,
          topic,
          producer: { create_topics: false, batch: { max_events: 200, max_bytes: '8KiB' } },
        }),
      );
      const deadLetterFile = join(dir, 'data', 'dead-letter', 'agent.jsonl');
      const total = async () => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
      await waitFor(
        'the 1,000 normal lines in the topic',
        async () => (await total()) >= 1000,
        60_000,
        async () => `${await total()}; ${agent.log().slice(-2000)}`,
      );
      await waitFor(
        'the 2 big lines in the dead-letter',
        () => existsSync(deadLetterFile) && readFileSync(deadLetterFile, 'utf8').split('\n').length === 3,
        20_000,
        () => agent.log().slice(-2000),
      );
      expect(await agent.stop()).toBe(0);

      const seen = await idsIn(topic, 1000);
      expect(await total()).toBe(1000);
      expect(seen.size).toBe(1000);
      expect([...seen.values()].every((times) => times === 1)).toBe(true);
      const entries = readFileSync(deadLetterFile, 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { reason: string; topic: string; bytes: number; event: LogEvent });
      expect(entries.map((e) => e.event.message.slice(0, 5)).sort()).toEqual(['big-1', 'big-2']);
      for (const e of entries) {
        expect(e.reason).toMatch(/^(MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE): kafka refused the record for good/);
        expect(e.topic).toBe(topic);
      }
      expect(agent.log()).toMatch(/"msg":"wrote to the dead-letter"/);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('sluice agent with the defaults and a 5 MiB line (issue 12)', () => {
  it('cuts it to max_event_bytes, below what Kafka takes, marked log.truncated: it and every neighbour in the topic once', async () => {
    const { dir, topic, logFile } = ws.setup('default-limits');
    created.push(topic);
    appendEvents(logFile, 0, 500);
    // Random, so that no compression brings it under the broker's limit.
    appendFileSync(logFile, `big-1 ${randomBytes(4 * 1024 * 1024).toString('base64')}\n`);
    appendEvents(logFile, 500, 500);
    const agent = ws.start(
      'agent',
      dir,
      'agent',
      [
        `data_dir: ${join(dir, 'data')}`,
        'api: { address: 127.0.0.1:0 }',
        'sources:',
        `  app: { type: file, include: ["${join(dir, 'logs', '*.log')}"], start_at: beginning, service: shop, poll_interval: 50ms }`,
        'channel: { type: disk }',
        `bus: { type: kafka, brokers: [${brokers}], topic: ${topic} }`,
        '',
      ].join('\n'),
    );
    const admin = kafka.admin();
    await admin.connect();
    const total = async () => (await admin.fetchTopicOffsets(topic).catch(() => [])).reduce((sum, p) => sum + Number(p.high), 0);
    try {
      await waitFor(
        'the 1,001 lines in the topic',
        async () => (await total()) >= 1001,
        60_000,
        async () => `${await total()}; ${agent.log().slice(-2000)}`,
      );
      expect(await agent.stop()).toBe(0);
      expect(await total()).toBe(1001);
    } finally {
      await admin.disconnect();
    }
    const seen = await readTopicEvents(kafka, topic, 1001, 60_000);
    const events = [...seen.values()];
    const numbers = events.filter((e) => e.message.startsWith('ev-')).map((e) => Number(/^ev-(\d+) /.exec(e.message)![1]));
    expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    const big = events.filter((e) => e.message.startsWith('big-1 '));
    expect(big).toHaveLength(1);
    expect(big[0]!.message.length).toBe(900 * 1024);
    expect(big[0]!.fields['log.truncated']).toBe(true);
    // Nothing was refused: the agent's dead-letter holds no entry.
    const agentDeadLetter = join(dir, 'data', 'dead-letter', 'agent.jsonl');
    expect(existsSync(agentDeadLetter) ? readFileSync(agentDeadLetter, 'utf8') : '').toBe('');
  });
});

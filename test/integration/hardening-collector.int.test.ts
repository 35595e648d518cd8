// Issue #12 at the collector's sinks, with the built CLI, the shared broker and node: events
// from 2015 and 2099 among current ones go to the day of their arrival in the file tree and in
// Elasticsearch (max_event_age: 7d, max_future: 1d beside retention_days: 7), keeping their own
// time; and the Elasticsearch password comes from a ${VAR} of digits, stays a string, and is
// never written to the log.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { encodeEvent } from '../../core/wire.js';
import { apiWorkspace } from './api-harness.js';
import { collectorYaml, topicsDeletedAfterAll } from './bus-harness.js';
import { documents, dropIndices } from '../support/elasticsearch.js';
import { linesUnder, makeEvent, waitFor } from '../support/index.js';

const brokers = inject('kafkaBrokers');
const url = inject('elasticsearchUrl');
const es = new Client({ node: url });
const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
const aws = apiWorkspace('sluice-hardening-collector-');
const prefix = `sluice-int-window-${process.pid}-${Date.now()}`;
const topic = prefix;
const PASSWORD = '1234567890';
const OLD = Date.UTC(2015, 2, 4, 10);
const FUTURE = Date.UTC(2099, 0, 1, 12);
// 0..99 current, 100..109 from 2015 (a backfill of old files), 110..119 from 2099 (a wrong clock).
const TOTAL = 120;
const timeOf = (n: number, now: number): number => (n < 100 ? now - 60_000 + n : n < 110 ? OLD + n : FUTURE + n);
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

let dir: string;
let root: string;
let log = '';
let exit: number | null = null;
let before = 0;
let after = 0;

interface Doc {
  _id: string;
  _index: string;
  _source: { message: string; '@timestamp': string; fields?: Record<string, unknown> };
}

const docs = () => documents<Doc>(es, prefix, 1000);

/** Every event of the tree with the path of its file under the root. */
const tree = (): { file: string; event: LogEvent }[] =>
  linesUnder(root).map(({ file, line }) => ({ file, event: JSON.parse(line) as LogEvent }));

const numberOf = (message: string): number => Number(/^ev-(\d+) /.exec(message)![1]);

function expectEachOnce(seen: number[]): void {
  expect(seen.length).toBe(TOTAL);
  expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, n) => n));
}

/** Makes `topic` (one partition) and sends it `events`, acknowledged by the broker. */
async function produce(topic: string, events: LogEvent[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: events.map((e) => ({ value: encodeEvent(e) })) });
  await producer.disconnect();
}

beforeAll(async () => {
  ({ dir } = aws.setup('window'));
  root = join(dir, 'tree');
  const now = Date.now();
  await produce(
    topic,
    Array.from({ length: TOTAL }, (_, n) =>
      makeEvent({
        id: `ev-${n}`,
        timestamp: timeOf(n, now),
        message: `ev-${n} zookeeper`,
        service: 'zookeeper',
        module: 'm',
        host: 'h',
        source: { kind: 'file', path: '/var/log/zk.log', offset: n },
      }),
    ),
  );

  const window = { max_event_age: '7d', max_future: '1d', retention_days: 7 };
  before = Date.now();
  const collector = aws.start(
    'collector',
    dir,
    'collector',
    collectorYaml({
      dataDir: join(dir, 'collector'),
      brokers,
      topic,
      group: `${topic}-g`,
      sinks: {
        files: { type: 'file', root, path: '{service}/%Y-%m-%d/{host}.log', encoding: 'json', ...window },
        search: {
          type: 'elasticsearch',
          url,
          username: 'elastic',
          password: '${ES_PASSWORD}',
          index: `${prefix}-{service}-%Y.%m.%d`,
          template: { name: prefix, replicas: 0 },
          ...window,
        },
      },
      routes: { default: ['files', 'search'] },
    }),
    { ES_PASSWORD: PASSWORD },
  );
  await waitFor(
    `${TOTAL} events in the tree and in Elasticsearch`,
    async () => {
      if (!collector.running) throw new Error(`the collector exited: ${collector.log().slice(-2000)}`);
      return tree().length >= TOTAL && (await docs()).length >= TOTAL;
    },
    120_000,
    async () => `${tree().length} / ${(await docs()).length}\n${collector.log().slice(-2000)}`,
  );
  exit = await collector.stop();
  after = Date.now();
  log = collector.log();
});

const topics = topicsDeletedAfterAll(kafka);
topics.push(topic);
afterAll(async () => {
  await dropIndices(es, prefix);
  await es.close();
});

describe('events from 2015 and 2099 among current ones, collector with max_event_age: 7d and max_future: 1d', () => {
  it('are indexed once each, in the index of their arrival day with their own @timestamp; none in a 2015 or 2099 index', async () => {
    expect(exit).toBe(0);
    const stored = await docs();
    expectEachOnce(stored.map((d) => numberOf(d._source.message)));
    const arrivalDays = new Set([day(before), day(after)].map((d) => d.replaceAll('-', '.')));
    for (const d of stored) {
      const n = numberOf(d._source.message);
      expect(d._id).toBe(`ev-${n}`);
      expect(d._index).not.toMatch(/-(2015|2099)\./);
      if (n < 100) continue;
      expect(arrivalDays.has(d._index.slice(-10))).toBe(true);
      expect(Date.parse(d._source['@timestamp'])).toBe(n < 110 ? OLD + n : FUTURE + n);
      const partition = Date.parse(String(d._source.fields?.['log.time_partition']));
      expect(partition).toBeGreaterThanOrEqual(before);
      expect(partition).toBeLessThanOrEqual(after);
    }
  });

  it('are in the file tree once each, in the directory of their arrival day, with their own time', () => {
    const files = tree();
    expectEachOnce(files.map((f) => numberOf(f.event.message)));
    const arrivalDays = [day(before), day(after)];
    for (const { file, event } of files) {
      expect(file).not.toMatch(/2015|2099/);
      const n = numberOf(event.message);
      if (n >= 100) {
        expect(arrivalDays).toContain(file.split('/')[1]);
        expect(event.timestamp).toBe(n < 110 ? OLD + n : FUTURE + n);
        expect(event.fields['log.time_partition']).toBeDefined();
      }
    }
  });
});

describe('an Elasticsearch password from ${ES_PASSWORD} made of digits', () => {
  it('is taken as a string (the collector ran and indexed) and never written to the log', async () => {
    expect(exit).toBe(0);
    expect((await docs()).length).toBe(TOTAL);
    expect(log).toContain('"msg":"sluice started"');
    expect(log).not.toContain(PASSWORD);
  });
});

describe('an index that blocks writes for a while (a per-event retry, not a refusal)', () => {
  // A prefix of its own: Sluice refuses templates of two sinks whose patterns overlap.
  const blocked = `sluice-int-blocked-${process.pid}-${Date.now()}`;
  const retryTopic = blocked;
  topics.push(retryTopic);
  afterAll(() => dropIndices(es, blocked));

  it('indexes the other services at once, retries the blocked one until the block lifts, then each event is indexed once, none dead-lettered', async () => {
    const { dir: here } = aws.setup('retry');
    const T0 = Date.UTC(2024, 4, 1, 12);
    const index = `${blocked}-b-2024.05.01`;
    await es.indices.create({ index, settings: { number_of_replicas: 0, 'index.blocks.write': true } });
    await produce(
      retryTopic,
      Array.from({ length: 300 }, (_, n) =>
        makeEvent({
          id: `ev-${n}`,
          timestamp: T0 + n,
          message: `ev-${n} retry`,
          service: ['a', 'b', 'c'][n % 3]!,
          module: 'm',
          host: 'h',
          source: { kind: 'file', path: '/var/log/app.log', offset: n },
        }),
      ),
    );
    const deadLetter = join(here, 'dead-letter.jsonl');
    const collector = aws.start(
      'collector',
      here,
      'collector',
      collectorYaml({
        dataDir: join(here, 'collector'),
        brokers,
        topic: retryTopic,
        group: `${retryTopic}-g`,
        sinks: {
          search: { type: 'elasticsearch', url, index: `${blocked}-{service}-%Y.%m.%d`, template: { name: blocked, replicas: 0 } },
        },
        deadLetter,
      }),
    );
    const stored = () => documents<Doc>(es, blocked, 1000);
    await waitFor(
      'services a and c indexed, b retried',
      async () => {
        if (!collector.running) throw new Error(`the collector exited: ${collector.log().slice(-2000)}`);
        return (
          (await stored()).length >= 200 && collector.log().includes('"msg":"sink asked to retry some events; retrying after backoff"')
        );
      },
      60_000,
      async () => `${(await stored()).length} documents\n${collector.log().slice(-2000)}`,
    );
    expect((await stored()).filter((d) => d._index === index)).toEqual([]);
    expect(collector.log()).toContain('cluster_block_exception');

    await es.indices.putSettings({ index, settings: { 'index.blocks.write': false } });
    await waitFor(
      '300 documents',
      async () => (await stored()).length >= 300,
      90_000,
      async () => `${(await stored()).length} documents\n${collector.log().slice(-2000)}`,
    );
    expect(await collector.stop()).toBe(0);
    const docsNow = await stored();
    expect(docsNow.map((d) => d._id).sort()).toEqual(Array.from({ length: 300 }, (_, n) => `ev-${n}`).sort());
    expect(docsNow.filter((d) => d._index === index)).toHaveLength(100);
    expect(existsSync(deadLetter) ? readFileSync(deadLetter, 'utf8') : '').toBe('');
  });
});

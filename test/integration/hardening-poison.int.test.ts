// Issue #12, poison events at the collector, on the shared broker and node with the built CLI:
// one stream holds good events of three services and, among them, events with times no
// sink can store (from the agent's time parser and straight on the wire), the events of a
// service whose directory in the file tree is a plain file, and documents Elasticsearch
// refuses (a field type conflict). One collector (file tree + Elasticsearch + file
// dead-letter) reads it all: every good neighbour is in each sink exactly once by event
// number, every poison event is delivered or in the dead-letter with its reason.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { encodeEvent } from '../../core/wire.js';
import { topicsDeletedAfterAll, workspace } from './bus-harness.js';
import { documents, dropIndices } from '../support/elasticsearch.js';
import { expectEachOnce as exactly, linesUnder, waitFor } from '../support/index.js';

const brokers = inject('kafkaBrokers');
const url = inject('elasticsearchUrl');
const es = new Client({ node: url });
const ws = workspace('sluice-poison-', brokers);
const scenario = ws.setup('poison');
const { dir, topic, logFile } = scenario;
const prefix = `sluice-int-poison-${process.pid}-${Date.now()}`;
const root = join(dir, 'tree');
const deadLetterFile = join(dir, 'dead-letter.jsonl');
const T0 = Date.UTC(2024, 4, 1, 12);
const DAY = '2024.05.01';

// Event numbers: 0..599 good (services a, b, c); 600..619 times out of range on the wire;
// 620..649 service "blocked" (its directory is a plain file); 650..659 service b with a
// string where the index maps a long; 1000..1099 tailed by an agent that parses the time
// from the line, every tenth one an epoch in nanoseconds.
const GOOD = range(0, 600);
const BAD_TIME_WIRE = range(600, 620);
const BLOCKED = range(620, 650);
const CONFLICT = range(650, 660);
const AGENT = range(1000, 1100);
const BAD_TIME_AGENT = AGENT.filter((n) => n % 10 === 0);
const OUT_OF_RANGE = [1_700_000_000_000_000_000, 8.64e15 + 1, -8.64e15 - 1];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function wire(n: number): LogEvent {
  const service = BLOCKED.includes(n) ? 'blocked' : CONFLICT.includes(n) ? 'b' : ['a', 'b', 'c'][n % 3]!;
  return {
    id: `ev-${n}`,
    timestamp: BAD_TIME_WIRE.includes(n) ? OUT_OF_RANGE[n % OUT_OF_RANGE.length]! : T0 + n,
    message: `ev-${n} payload`,
    service,
    module: 'm',
    host: 'h',
    source: { kind: 'file', path: '/var/log/app.log', offset: n * 100 },
    fields: CONFLICT.includes(n) ? { code: `E${n}` } : service === 'b' ? { code: n } : {},
  };
}

const numberOf = (message: string): number => {
  const m = /^(?:\d+ )?ev-(\d+) /.exec(message);
  if (!m) throw new Error(`unexpected message ${message.slice(0, 80)}`);
  return Number(m[1]);
};

interface TreeEvent {
  file: string;
  event: LogEvent;
}

/** Every event line of every file (finished or in progress) under the tree, but the blocking plain file. */
const tree = (): TreeEvent[] =>
  linesUnder(root, (p) => p === join(root, 'blocked')).map(({ file, line }) => ({ file, event: JSON.parse(line) as LogEvent }));

interface Doc {
  _id: string;
  _index: string;
  _source: { message: string; '@timestamp': string; fields?: Record<string, unknown> };
}

const docs = () => documents<Doc>(es, prefix);

interface DeadLetterEntry {
  reason: string;
  event: LogEvent;
}

const deadLetter = (): DeadLetterEntry[] =>
  existsSync(deadLetterFile)
    ? readFileSync(deadLetterFile, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as DeadLetterEntry)
    : [];

const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
let collectorLog = '';
let collectorExit: number | null = null;
let agentExit: number | null = null;
let startedAt = 0;
let stoppedAt = 0;

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  // An index made before Sluice's template, as another writer or an old version left it:
  // fields.code is a long there, so a string in it is refused for good.
  await es.indices.create({
    index: `${prefix}-b-${DAY}`,
    settings: { number_of_replicas: 0 },
    mappings: { properties: { fields: { properties: { code: { type: 'long' } } } } },
  });
  // A plain file where the tree needs the directory of service "blocked".
  mkdirSync(root);
  writeFileSync(join(root, 'blocked'), 'not a directory');

  startedAt = Date.now();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const all = [...GOOD, ...BAD_TIME_WIRE, ...BLOCKED, ...CONFLICT].sort((x, y) => x - y);
  await producer.send({ topic, acks: -1, messages: all.map((n) => ({ key: `k${n % 5}`, value: encodeEvent(wire(n)) })) });
  await producer.disconnect();

  appendFileSync(
    logFile,
    `${AGENT.map((n) => `${BAD_TIME_AGENT.includes(n) ? '1700000000000000000' : T0 + n} ev-${n} agent`).join('\n')}\n`,
  );
  const agent = scenario.agent({ logGlob: logFile, source: { timestamp: { pattern: '^(\\d+) ', format: 'epoch_ms' } } });
  const collector = scenario.collector({
    sinks: {
      files: { type: 'file', root, path: '{service}/%Y-%m-%d.log', encoding: 'json' },
      search: { type: 'elasticsearch', url, index: `${prefix}-{service}-%Y.%m.%d`, template: { name: prefix, replicas: 0 } },
    },
    deadLetter: deadLetterFile,
    routes: { default: ['files', 'search'] },
  });
  const expected = { tree: 730, docs: 750, deadLetter: 40 };
  const state = async () => ({ tree: tree().length, docs: (await docs()).length, deadLetter: deadLetter().length });
  await waitFor(
    'every event stored or dead-lettered',
    async () => {
      const s = await state();
      return s.tree >= expected.tree && s.docs >= expected.docs && s.deadLetter >= expected.deadLetter;
    },
    120_000,
    async () => `${JSON.stringify(await state())}\n${agent.log().slice(-1500)}\n${collector.log().slice(-3000)}`,
  );
  agentExit = await agent.stop();
  collectorExit = await collector.stop();
  stoppedAt = Date.now();
  collectorLog = collector.log();
});

topicsDeletedAfterAll(kafka).push(topic);
afterAll(async () => {
  await dropIndices(es, prefix);
  await es.close();
});

describe('poison events among good ones: agent -> Kafka -> collector (file tree, Elasticsearch, dead-letter)', () => {
  it('both halves stop cleanly; the refusals are logged, nothing fatal', () => {
    expect(agentExit).toBe(0);
    expect(collectorExit).toBe(0);
    expect(collectorLog).not.toMatch(/"level":60/);
    expect(collectorLog).toContain('"msg":"sink refused events; sending them to the dead-letter"');
  });

  it('timestamps out of range (from the parser and on the wire) are delivered at their read time, marked log.time_invalid; no NaN day', async () => {
    const badTime = [...BAD_TIME_WIRE, ...BAD_TIME_AGENT];
    const stored = await docs();
    const inEs = stored.filter((d) => badTime.includes(numberOf(d._source.message)));
    exactly(
      inEs.map((d) => numberOf(d._source.message)),
      badTime,
    );
    for (const d of inEs) {
      const t = Date.parse(d._source['@timestamp']);
      expect(t).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(t).toBeLessThanOrEqual(stoppedAt);
      expect(d._index).not.toContain(DAY);
      const claimed = d._source.fields?.['log.time_invalid'];
      if (numberOf(d._source.message) >= 1000) expect(claimed).toBe('1700000000000000000');
      else expect(Number(claimed)).toBe(OUT_OF_RANGE[numberOf(d._source.message) % OUT_OF_RANGE.length]);
    }
    const files = tree();
    exactly(
      files.filter((f) => badTime.includes(numberOf(f.event.message))).map((f) => numberOf(f.event.message)),
      badTime,
    );
    expect(files.filter((f) => /NaN/.test(f.file))).toEqual([]);
    // Their neighbours keep the time of their line.
    const good = stored.filter(
      (d) => [...GOOD, ...AGENT].includes(numberOf(d._source.message)) && !badTime.includes(numberOf(d._source.message)),
    );
    for (const d of good) expect(d._index.endsWith(DAY)).toBe(true);
    expect(deadLetter().filter((e) => badTime.includes(numberOf(e.event.message)))).toEqual([]);
  });

  it('a path the file sink refuses: its events are in the dead-letter with the reason, every other event in the tree exactly once', () => {
    const files = tree();
    exactly(
      files.map((f) => numberOf(f.event.message)),
      [...GOOD, ...BAD_TIME_WIRE, ...CONFLICT, ...AGENT],
    );
    const refused = deadLetter().filter((e) => e.event.service === 'blocked');
    exactly(
      refused.map((e) => numberOf(e.event.message)),
      BLOCKED,
    );
    for (const e of refused) expect(e.reason).toContain('sinks.files: path "blocked/');
    expect(refused[0]!.reason).toContain(`refusing to write under ${join(root, 'blocked')}: it is not a directory`);
    expect(readFileSync(join(root, 'blocked'), 'utf8')).toBe('not a directory');
  });

  it('documents Elasticsearch refuses (field type conflict) are in the dead-letter with the reason, every other event indexed exactly once', async () => {
    const stored = await docs();
    exactly(
      stored.map((d) => numberOf(d._source.message)),
      [...GOOD, ...BAD_TIME_WIRE, ...BLOCKED, ...AGENT],
    );
    // Indexed under their event ids: a replay overwrites, never copies.
    for (const d of stored.filter((x) => numberOf(x._source.message) < 1000)) expect(d._id).toBe(`ev-${numberOf(d._source.message)}`);
    const refused = deadLetter().filter((e) => e.event.service === 'b');
    exactly(
      refused.map((e) => numberOf(e.event.message)),
      CONFLICT,
    );
    for (const e of refused) {
      expect(e.reason).toContain(`index ${prefix}-b-${DAY}: HTTP 400`);
      expect(e.reason).toMatch(/parsing_exception: .*\[fields\.code\] of type \[long\]/);
      expect(e.event.fields).toEqual({ code: `E${numberOf(e.event.message)}` });
    }
    expect(deadLetter()).toHaveLength(BLOCKED.length + CONFLICT.length);
  });
});

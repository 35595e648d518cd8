// Issue #12, the collector's dead-letter, with the built CLI, real Kafka and a really full disk
// (a small tmpfs): undecodable records are dead-lettered once even when their batch is read
// again after a SIGKILL, and a dead-letter write cut short by a full disk leaves no cut entry
// behind: the batch waits, and once there is room every record is in the dead-letter once,
// whole, and every good neighbour delivered once.
import { existsSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { encodeEvent } from '../../core/wire.js';
import { fillDisk, tmpfs } from '../support/full-disk.js';
import { linesUnder, makeEvent } from '../support/index.js';
import { lossAndDuplicates, outputs, tally, topicsDeletedAfterAll, waitFor, workspace } from './bus-harness.js';

const brokers = inject('kafkaBrokers');
const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
const ws = workspace('sluice-hardening-dl-', brokers);
const created = topicsDeletedAfterAll(kafka);
const disk = tmpfs('2m');

const good = (n: number): Buffer =>
  encodeEvent(
    makeEvent({ id: `id-${n}`, timestamp: Date.UTC(2024, 4, 1) + n, message: `ev-${n} ok`, service: 's', module: 'm', host: 'h' }),
  );

/** Produces good events 0..count-1 with an undecodable record after every `every`-th; returns the poison values by offset. */
async function produce(topic: string, count: number, every: number, poison: (k: number) => string): Promise<Map<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  created.push(topic);
  const messages: { value: Buffer | string }[] = [];
  const poisoned = new Map<string, string>();
  for (let n = 0; n < count; n++) {
    messages.push({ value: good(n) });
    if (n % every === every - 1) {
      const value = poison(poisoned.size);
      poisoned.set(String(messages.length), value);
      messages.push({ value });
    }
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
  return poisoned;
}

interface Entry {
  reason: string;
  topic: string;
  partition: number;
  offset: string;
  value: string;
}

/** The dead-letter's entries; throws on a line that is not whole JSON. */
function entries(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${file} ends in a cut entry: ...${text.slice(-80)}`);
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Entry);
}

function expectEachOnce(got: Entry[], topic: string, poisoned: Map<string, string>): void {
  expect(got.map((e) => e.offset).sort()).toEqual([...poisoned.keys()].sort());
  for (const e of got) {
    expect(e.topic).toBe(topic);
    expect(e.partition).toBe(0);
    expect(e.value).toBe(poisoned.get(e.offset));
    expect(e.reason).toMatch(/^not a Sluice event: invalid JSON/);
  }
}

/** Every line of every file under `root`, as event numbers (the file sink in text encoding). */
const treeNumbers = (root: string): number[] => linesUnder(root).map(({ line }) => Number(/^ev-(\d+) /.exec(line)![1]));

describe('undecodable records in a batch read again after a collector SIGKILL', () => {
  it('are in the dead-letter once each; every good event in the tree once', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const scenario = ws.setup('twice');
    const { dir, topic } = scenario;
    const poisoned = await produce(topic, 300, 50, (k) => `{not json ${k}`);
    const deadLetter = join(dir, 'dead-letter.jsonl');
    const root = join(disk.path, 'tree');
    // The sink's disk is full: the first collector dead-letters the undecodable records, then
    // cannot write the batch, so its offsets are never committed.
    const filler = await fillDisk(disk.path, 'twice');
    // Both collectors with the same data directory, as one restarted.
    const collector = (name: string) =>
      scenario.collector(
        { dataDir: join(dir, 'c'), deadLetter, sinks: { tree: { type: 'file', root, path: '{service}.log', encoding: 'text' } } },
        name,
      );
    const first = collector('c1');
    await waitFor(
      'the undecodable records in the dead-letter',
      () => entries(deadLetter).length >= poisoned.size,
      60_000,
      () => first.log().slice(-2000),
    );
    await waitFor(
      'the sink failing on the full disk',
      () => first.log().includes('"msg":"sink write failed; retrying, the batch is not acknowledged until it is written"'),
      60_000,
      () => first.log().slice(-2000),
    );
    await first.kill('SIGKILL');
    expect(treeNumbers(root)).toEqual([]);

    await unlink(filler);
    const second = collector('c2');
    await waitFor(
      '300 events in the tree',
      () => treeNumbers(root).length >= 300,
      60_000,
      () => second.log().slice(-2000),
    );
    expect(await second.stop()).toBe(0);
    const seen = treeNumbers(root);
    expect(seen.length).toBe(300);
    expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, n) => n));
    // The batch was read again from its first offset, the undecodable records with it: once each.
    expectEachOnce(entries(deadLetter), topic, poisoned);
  });
});

describe('a dead-letter write cut short by a full disk', () => {
  it('leaves no cut entry; once there is room every record is in it once, whole, and every neighbour delivered once', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const scenario = ws.setup('short');
    const { dir, topic } = scenario;
    // 20 KB values: the first entry meets 8 KiB of room, so the write returns short, then ENOSPC.
    const poisoned = await produce(topic, 200, 40, (k) => `{not json ${k} ${'p'.repeat(20_000)}`);
    const deadLetter = join(disk.path, 'dead-letter.jsonl');
    const filler = await fillDisk(disk.path, 'short', 8192);
    const collector = scenario.collector({ dataDir: join(dir, 'c'), deadLetter });
    const out = () => outputs(dir, 'collector.out');
    await waitFor(
      'the dead-letter write to fail',
      () => collector.log().includes('"msg":"dead-letter write failed; retrying, the batch is not committed until it is written"'),
      60_000,
      () => collector.log().slice(-2000),
    );
    // Whatever the short write put there was cut back: whole entries only (none at all here).
    expect(entries(deadLetter)).toEqual([]);
    expect(readFileSync(deadLetter).length).toBe(0);
    expect(collector.running).toBe(true);

    await unlink(filler);
    await waitFor(
      '200 events at the console and 5 entries in the dead-letter',
      () => tally(out()).counts.size >= 200 && entries(deadLetter).length >= poisoned.size,
      90_000,
      () => `${tally(out()).counts.size} events, ${entries(deadLetter).length} entries\n${collector.log().slice(-2000)}`,
    );
    expect(await collector.stop()).toBe(0);
    expect(lossAndDuplicates(tally(out()), 200)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
    expectEachOnce(entries(deadLetter), topic, poisoned);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetterEntry } from '../../core/dead-letter.js';
import { silentLogger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import type { Bus, BusRecord, BusRecordWriter } from '../../core/pipeline.js';
import { captureLogger, makeEvent, tempDir, type TempDir } from '../../test/support/index.js';
import { FileDeadLetter } from '../file/file-dead-letter.js';
import { kafkaDeadLetterSpec } from './index.js';
import { KafkaDeadLetter, type RefusedFile } from './kafka-dead-letter.js';

// The topic writer against the real broker is exercised by kafka-dead-letter.int.test.ts and
// the collector's integration tests; here, a narrow fake of the bus's record writer checks
// what is handed to it, and what becomes of the records it says Kafka refused.

interface FakeWriter extends BusRecordWriter {
  written: BusRecord[][];
  closed: number;
}

/** A topic that refuses for good every record whose value is longer than `maxBytes`, and fails every write while `down`. */
function fakeWriter(topic: { maxBytes: number; down?: Error }): FakeWriter {
  const writer: FakeWriter = {
    written: [],
    closed: 0,
    async write(records) {
      if (topic.down) throw topic.down;
      const refused = records.flatMap((r, index) =>
        Buffer.byteLength(r.value) > topic.maxBytes
          ? [{ index, error: 'MESSAGE_TOO_LARGE', reason: 'MESSAGE_TOO_LARGE: kafka refused the record for good (too large)' }]
          : [],
      );
      writer.written.push(records.filter((_, i) => !refused.some((r) => r.index === i)));
      return { refused };
    },
    async close() {
      writer.closed++;
    },
  };
  return writer;
}

function busOf(writer: BusRecordWriter, topics: string[] = []): Bus {
  return {
    producer: () => {
      throw new Error('not used');
    },
    consumer: () => {
      throw new Error('not used');
    },
    recordWriter: (topic) => {
      topics.push(topic);
      return writer;
    },
  };
}

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir('kafka-dl');
});
afterEach(() => tmp.cleanup());

const ctx = () => ({ name: 'dead-letter', dataDir: join(tmp.dir, 'dead-letter'), host: 'h', logger: silentLogger() });

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function refusedCount(error: string): Promise<number> {
  const family = await metrics.getSingleMetric('sluice_dead_letter_topic_refused_entries_total')?.get();
  return family?.values.find((v) => v.labels.error === error)?.value ?? 0;
}

/** An undecodable record of `bytes` bytes at `offset`. */
const record = (offset: number, bytes = 10): DeadLetterEntry => ({
  reason: 'not a Sluice event',
  topic: 'logs',
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from('{'.padEnd(bytes, 'x')),
});

describe('kafka dead-letter', () => {
  it('produces one record per entry to its topic: the original key (or service/module), the entry as value, the reason as header', async () => {
    await kafkaDeadLetterSpec.load?.();
    const writer = fakeWriter({ maxBytes: 10_000 });
    const topics: string[] = [];
    const options = kafkaDeadLetterSpec.options.parse({});
    expect(options).toEqual({ topic: 'sluice-dead-letter' });
    const dl = kafkaDeadLetterSpec.create(options, { ...ctx(), bus: busOf(writer, topics) });
    await dl.open();
    await dl.write([
      { reason: 'not a Sluice event', topic: 'logs', partition: 0, offset: '3', key: Buffer.from('k'), value: Buffer.from('{') },
      { reason: 'no route', event: makeEvent({ service: 'shop', module: 'api' }) },
    ]);
    await dl.close();
    expect(topics).toEqual(['sluice-dead-letter']);
    expect(writer.written).toHaveLength(1);
    expect(writer.written[0]!.map((r) => [String(r.key), JSON.parse(String(r.value)).reason, r.headers])).toEqual([
      ['k', 'not a Sluice event', { reason: 'not a Sluice event' }],
      ['shop/api', 'no route', { reason: 'no route' }],
    ]);
    expect(writer.closed).toBe(1);
    // Nothing was refused: the file for refused entries is empty.
    expect(readFileSync(join(tmp.dir, 'dead-letter', 'refused.jsonl'), 'utf8')).toBe('');
  });

  it('keeps an entry the topic refuses for good in the refused file, durably before the write resolves, and the others in the topic', async () => {
    await kafkaDeadLetterSpec.load?.();
    const writer = fakeWriter({ maxBytes: 500 });
    const { logger, lines: logged } = captureLogger();
    const dl = kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse({ topic: 'dl' }), { ...ctx(), logger, bus: busOf(writer) });
    await dl.open();
    const before = await refusedCount('MESSAGE_TOO_LARGE');
    await dl.write([record(1), record(2, 1000), record(3)]);
    // Durable once write() resolved: read before close.
    const kept = lines(join(tmp.dir, 'dead-letter', 'refused.jsonl'));
    await dl.close();
    expect(writer.written.map((w) => w.map((r) => JSON.parse(String(r.value)).offset))).toEqual([['1', '3']]);
    expect(kept.map(({ time: _t, ...rest }) => rest)).toEqual([
      { reason: 'not a Sluice event', topic: 'logs', partition: 0, offset: '2', value: '{'.padEnd(1000, 'x') },
    ]);
    expect(await refusedCount('MESSAGE_TOO_LARGE')).toBe(before + 1);
    const refusal = logged.filter((l) => l.msg === 'the dead-letter topic refused entries for good; kept them in the file');
    expect(refusal.map(({ topic, reason, entries, bytes, file, level }) => ({ topic, reason, entries, bytes, file, level }))).toEqual([
      {
        topic: 'dl',
        reason: 'MESSAGE_TOO_LARGE: kafka refused the record for good (too large)',
        entries: 1,
        // The record's value: the entry as the file has it, but for its time (of the same length).
        bytes: readFileSync(join(tmp.dir, 'dead-letter', 'refused.jsonl')).length - 1,
        file: join(tmp.dir, 'dead-letter', 'refused.jsonl'),
        level: 40,
      },
    ]);
    // The topic's own line counts only what the topic holds.
    expect(logged.filter((l) => l.msg === 'wrote to the dead-letter' && l.topic === 'dl').map((l) => l.entries)).toEqual([2]);
  });

  it('resolves a write whose every entry the topic refused once the file has them', async () => {
    await kafkaDeadLetterSpec.load?.();
    const writer = fakeWriter({ maxBytes: 0 });
    const path = join(tmp.dir, 'elsewhere', 'refused.jsonl');
    const dl = kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse({ refused_path: path }), { ...ctx(), bus: busOf(writer) });
    await dl.open();
    await dl.write([record(1), { reason: 'no route', event: makeEvent({ id: 'ev' }) }]);
    await dl.close();
    expect(lines(path).map((l) => l.offset ?? (l.event as { id: string }).id)).toEqual(['1', 'ev']);
    expect(existsSync(join(tmp.dir, 'dead-letter', 'refused.jsonl'))).toBe(false);
  });

  it('keeps a refused file per collector worker after the first: two processes never append to one file', async () => {
    await kafkaDeadLetterSpec.load?.();
    const given = join(tmp.dir, 'refused-here.jsonl');
    for (const [options, worker] of [
      [{}, 0],
      [{}, 2],
      [{ refused_path: given }, undefined],
      [{ refused_path: given }, 3],
    ] as const) {
      const dl = kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse(options), {
        ...ctx(),
        bus: busOf(fakeWriter({ maxBytes: 0 })),
        worker,
      });
      await dl.open();
      await dl.write([{ reason: `worker ${worker ?? 'alone'}`, event: makeEvent() }]);
      await dl.close();
    }
    const dir = join(tmp.dir, 'dead-letter');
    expect(lines(join(dir, 'refused.jsonl')).map((l) => l.reason)).toEqual(['worker 0']);
    expect(lines(join(dir, 'refused.worker-2.jsonl')).map((l) => l.reason)).toEqual(['worker 2']);
    expect(lines(given).map((l) => l.reason)).toEqual(['worker alone']);
    expect(lines(join(tmp.dir, 'refused-here.worker-3.jsonl')).map((l) => l.reason)).toEqual(['worker 3']);
  });

  it('fails the write when the file cannot keep what the topic refused, and does not produce again what the topic acked', async () => {
    const writer = fakeWriter({ maxBytes: 500 });
    const real = new FileDeadLetter(join(tmp.dir, 'refused.jsonl'), silentLogger());
    let diskFull = true;
    const file: RefusedFile = {
      path: real.path,
      open: () => real.open(),
      close: () => real.close(),
      write: async (entries) => {
        if (diskFull) throw new Error('ENOSPC: no space left on device');
        await real.write(entries);
      },
    };
    const dl = new KafkaDeadLetter(writer, 'dl', file, silentLogger());
    await dl.open();
    const entries = [record(1), record(2, 1000), { reason: 'no route', event: makeEvent({ id: 'ev' }) }];
    await expect(dl.write(entries)).rejects.toThrow(
      `dead-letter topic dl refused 1 entries for good (MESSAGE_TOO_LARGE: kafka refused the record for good (too large)) and ${real.path} could not keep them: ENOSPC: no space left on device`,
    );
    // The collector's retry, failing the same way: what the topic holds is still not produced again.
    await expect(dl.write(entries)).rejects.toThrow(/ENOSPC/);
    diskFull = false;
    await dl.write(entries);
    // Once the write succeeded, the entries are forgotten: written again, they are produced again.
    await dl.write([record(1)]);
    await dl.close();
    const offsets = (w: BusRecord[]) => w.map((r) => JSON.parse(String(r.value)).offset ?? JSON.parse(String(r.value)).event.id);
    expect(writer.written.map(offsets)).toEqual([['1', 'ev'], [], [], ['1']]);
    expect(lines(real.path).map((l) => l.offset)).toEqual(['2']);
  });

  it('fails the write, naming the dead-letter, when the topic does not take the records', async () => {
    await kafkaDeadLetterSpec.load?.();
    const writer = fakeWriter({ maxBytes: 10_000, down: new Error('topic dl: broker down') });
    const dl = kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse({ topic: 'dl' }), { ...ctx(), bus: busOf(writer) });
    await expect(dl.write([{ reason: 'no route', event: makeEvent() }])).rejects.toThrow('dead-letter topic dl: broker down');
  });

  it('needs a bus with topics', async () => {
    await kafkaDeadLetterSpec.load?.();
    expect(() => kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse({}), ctx())).toThrow(
      'dead_letter type kafka needs the kafka bus (bus: {type: kafka, ...})',
    );
  });

  it('checks the topic name, rejects options of the file type, and declares the keys its refused file remembers', () => {
    expect(kafkaDeadLetterSpec.options.safeParse({ topic: 'a/b' }).success).toBe(false);
    expect(kafkaDeadLetterSpec.options.safeParse({ path: '/x' }).success).toBe(false);
    const options = kafkaDeadLetterSpec.options.parse({ agent_path: '/a.jsonl', refused_path: '/r.jsonl' });
    expect(options).toEqual({ topic: 'sluice-dead-letter', agent_path: '/a.jsonl', refused_path: '/r.jsonl' });
    expect(kafkaDeadLetterSpec.memory?.(options)).toEqual([
      { what: 'refused_path: remembered entries (200,000 keys)', bytes: 200_000 * 64 },
    ]);
  });
});

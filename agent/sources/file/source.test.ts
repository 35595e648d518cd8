import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, renameSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../../test/support/index.js';
import { beforeEach, describe, expect, test } from 'vitest';
import { fileEventId } from '../../../core/event-id.js';
import { silentLogger } from '../../../core/log.js';
import { metrics } from '../../../core/metrics.js';
import { MemoryChannel } from '../../channel/memory/memory-channel.js';
import { makeEvent } from '../../channel/testkit.js';
import { fileSourceSpec } from './index.js';
import type { FileSource } from './source.js';
import { type makeSource, RecordingChannel, sourcesUnderTest } from './testing.js';
import type { Tracker } from './tracker.js';

const sources = sourcesUnderTest('file-source');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

function start(options: Parameters<typeof makeSource>[0], ch: RecordingChannel, name?: string): Promise<FileSource> {
  return sources.start(options, ch, name);
}

const stop = (s: FileSource): Promise<void> => sources.stop(s);

/** The source's table of files, for what shows nowhere else (which files are closed, which copies wait). */
const trackerOf = (s: FileSource): Tracker => (s as unknown as { tracker: Tracker }).tracker;

const line = (i: number): string => `line ${i} ${'x'.repeat(i % 50)}`;
const lines = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => line(from + k));
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

async function counterValue(name: string, component: string): Promise<number> {
  const m = (await metrics.getSingleMetric(name)?.get())?.values.find((v) => v.labels.component === component);
  return m?.value ?? 0;
}

/** Appends lines [from, to) in small batches, yielding to the event loop between them: continuous writing. */
async function writeContinuously(path: string, from: number, to: number, per = 25): Promise<void> {
  for (let i = from; i < to; i += per) {
    appendFileSync(path, `${lines(i, Math.min(to, i + per)).join('\n')}\n`);
    await tick();
  }
}

function expectExactly(ch: RecordingChannel, expected: string[]): void {
  const got = ch.messages();
  expect(new Set(ch.events.map((e) => e.id)).size, 'duplicate event ids').toBe(got.length);
  expect([...got].sort()).toEqual([...expected].sort());
}

describe('rotation under continuous writes', () => {
  for (const rotatedMatch of [false, true]) {
    test(`rename + create (rotated names ${rotatedMatch ? 'also' : 'not'} matched): every line once`, async () => {
      const log = join(dir, 'app.log');
      const ch = new RecordingChannel();
      await writeFile(log, '');
      await start({ include: [join(dir, rotatedMatch ? 'app.log*' : 'app.log')] }, ch);
      let n = 0;
      for (let r = 1; r <= 4; r++) {
        await writeContinuously(log, n, n + 1000);
        n += 1000;
        renameSync(log, `${log}.${r}`);
        appendFileSync(`${log}.${r}`, `${line(n++)}\n`); // a late write to the renamed file
        appendFileSync(log, `${line(n++)}\n`);
      }
      await writeContinuously(log, n, n + 500);
      n += 500;
      await waitFor(`${n} events`, () => ch.events.length >= n);
      expectExactly(ch, lines(0, n));
    });
  }

  test('copytruncate (copies matched): the copy continues where the original was truncated; every line once', async () => {
    const log = join(dir, 'app.log');
    const ch = new RecordingChannel();
    await writeFile(log, '');
    await start({ include: [join(dir, 'app.log*')] }, ch);
    let n = 0;
    for (let r = 1; r <= 4; r++) {
      await writeContinuously(log, n, n + 1000);
      n += 1000;
      copyFileSync(log, `${log}.${r}`);
      truncateSync(log, 0);
    }
    await writeContinuously(log, n, n + 500);
    n += 500;
    await waitFor(`${n} events`, () => ch.events.length >= n);
    expectExactly(ch, lines(0, n));
  });

  test('delete + create: a deleted file is read to its end through the open descriptor', async () => {
    const log = join(dir, 'app.log');
    const ch = new RecordingChannel();
    await writeFile(log, '');
    await start({ include: [join(dir, '*.log')] }, ch);
    let n = 0;
    for (let r = 1; r <= 4; r++) {
      const first = n;
      await writeContinuously(log, n, n + 1000);
      n += 1000;
      // Delete once the source follows this generation (a real rotation period is long).
      await waitFor(`file generation ${r} seen`, () => ch.messages().includes(line(first)));
      unlinkSync(log);
      appendFileSync(log, `${line(n++)}\n`);
    }
    await waitFor(`${n} events`, () => ch.events.length >= n);
    expectExactly(ch, lines(0, n));
  });
});

test('truncation in place: reading restarts at 0, nothing lost or repeated', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, `${lines(0, 100).join('\n')}\n`);
  const ch = new RecordingChannel();
  await start({ include: [log] }, ch);
  await waitFor('100 events', () => ch.events.length === 100);
  truncateSync(log, 0);
  await waitFor('still 100', () => ch.checkpoints.length > 0 && ch.events.length === 100);
  await writeContinuously(log, 100, 150);
  await waitFor('150 events', () => ch.events.length >= 150);
  expectExactly(ch, lines(0, 150));
  // The new generation is another file as far as ids go: offset 0 again, another fileId.
  const [a, b] = [ch.events[0]!, ch.events[100]!];
  expect(b.source.offset).toBe(0);
  expect(b.source.fileId).not.toBe(a.source.fileId);
});

test('a file deleted while being read (channel full meanwhile) is still read to its end', async () => {
  const log = join(dir, 'big.log');
  const all = lines(0, 50_000);
  await writeFile(log, `${all.join('\n')}\n`);
  const ch = new RecordingChannel();
  let release!: () => void;
  ch.gate = new Promise((r) => (release = r));
  await start({ include: [log], batch: { max_events: 1000 } }, ch);
  await waitFor('first put waiting', () => ch.puts === 1);
  await unlink(log);
  release();
  ch.gate = undefined;
  await waitFor('all events', () => ch.events.length >= 50_000);
  expectExactly(ch, all);
});

test('stops on its own while its put waits on a full channel (a reload removing it): the batch is read again by the next start', async () => {
  const log = join(dir, 'a.log');
  const all = lines(0, 100);
  await writeFile(log, `${all.join('\n')}\n`);
  // Full before the source puts anything: as with Kafka down.
  const full = new MemoryChannel({ maxEvents: 15, maxBytes: 1 << 20 }, 'full', silentLogger());
  await full.open();
  await full.put(Array.from({ length: 10 }, (_, n) => makeEvent(n)));
  let puts = 0;
  const counted = {
    put: (...args: Parameters<MemoryChannel['put']>) => {
      puts++;
      return full.put(...args);
    },
    lastCheckpoint: (source: string) => full.lastCheckpoint(source),
  };
  const first = await start({ include: [log], batch: { max_events: 10 } }, counted as unknown as RecordingChannel, 'app');
  await waitFor('a put waiting for room', () => puts === 1);
  await new Promise((r) => setTimeout(r, 100));
  // The channel is not stopping (other sources go on): only this source's put is taken back.
  await stop(first);
  expect(full.stats().events).toBe(10);
  const ch = new RecordingChannel();
  await start({ include: [log], batch: { max_events: 10 } }, ch, 'app');
  await waitFor('all events', () => ch.events.length >= 100);
  expectExactly(ch, all);
  await full.close();
});

test('backpressure: while put waits nothing more is read; afterwards every line arrives once', async () => {
  const log = join(dir, 'a.log');
  const all = lines(0, 20_000);
  await writeFile(log, `${all.join('\n')}\n`);
  const ch = new RecordingChannel();
  let release!: () => void;
  ch.gate = new Promise((r) => (release = r));
  await start({ include: [log], batch: { max_events: 500 } }, ch);
  await waitFor('first put waiting', () => ch.puts === 1);
  await new Promise((r) => setTimeout(r, 200));
  expect(ch.puts).toBe(1);
  ch.gate = undefined;
  release();
  await waitFor('all events', () => ch.events.length >= 20_000);
  expectExactly(ch, all);
  expect(ch.puts).toBe(40);
});

test('batch.timeout: a batch that is not full waits for more lines; nothing is lost or repeated across a stop', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, `${lines(0, 12).join('\n')}\n`);
  const ch = new RecordingChannel();
  const s1 = await start({ include: [log], batch: { max_events: 5, timeout: '1h' } }, ch);
  await waitFor('two full batches', () => ch.events.length === 10);
  // The last two lines wait for a fuller batch (an hour): only a stop puts them, or a restart reads them again.
  expect(ch.puts).toBe(2);
  await stop(s1);
  const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
  await start({ include: [log], batch: { max_events: 5, timeout: '0' } }, ch2);
  await appendFile(log, 'last\n');
  await waitFor('the rest', () => ch2.messages().includes('last'));
  expect(new Set([...ch.events, ...ch2.events].map((e) => e.id)).size).toBe(13);
  expect([...ch.messages(), ...ch2.messages()]).toEqual([...lines(0, 12), 'last']);
});

test('500 files at once with 64 descriptors: every line once, appends to closed files still found', async () => {
  const expected: string[] = [];
  await Promise.all(
    Array.from({ length: 500 }, (_, f) => {
      const content = Array.from({ length: 20 }, (_, i) => `f${f} l${i}`);
      expected.push(...content);
      return writeFile(join(dir, `f${f}.log`), `${content.join('\n')}\n`);
    }),
  );
  const ch = new RecordingChannel();
  await start({ include: [join(dir, '*.log')], max_open_files: 64 }, ch);
  await waitFor('10000 events', () => ch.events.length >= 10_000);
  for (let f = 0; f < 500; f++) {
    await appendFile(join(dir, `f${f}.log`), `f${f} l20\n`);
    expected.push(`f${f} l20`);
  }
  await waitFor('10500 events', () => ch.events.length >= 10_500);
  expectExactly(ch, expected);
});

test('max_open_files: a file closed with a backlog, then renamed outside the globs, is found by its inode and read to its end', async () => {
  const names = ['a', 'b', 'c', 'd'];
  const expected: string[] = [];
  for (const n of names) {
    const content = Array.from({ length: 1000 }, (_, i) => `${n} ${i}`);
    expected.push(...content);
    await writeFile(join(dir, `${n}.log`), `${content.join('\n')}\n`);
  }
  const ch = new RecordingChannel();
  let release!: () => void;
  ch.gate = new Promise((r) => (release = r));
  const s = await start({ include: [join(dir, '*.log')], max_open_files: 2, batch: { max_events: 100 } }, ch);
  await waitFor('first put waiting', () => ch.puts === 1);
  // Every file has a backlog and two descriptors serve four: some are closed with unread bytes.
  const closed = trackerOf(s)
    .followed()
    .find((f) => f.state === 'closed' && f.emitPos < statSync(f.path).size);
  expect(closed, 'a closed file with a backlog').toBeDefined();
  const path = closed!.path;
  await rename(path, path.replace(/\.log$/, '.old'));
  await writeFile(path, 'new 0\nnew 1\n');
  expected.push('new 0', 'new 1');
  ch.gate = undefined;
  release();
  await waitFor(
    'every line',
    () => ch.events.length >= expected.length,
    5000,
    () => `${ch.events.length} of ${expected.length}`,
  );
  expectExactly(ch, expected);
});

test('a copy waiting for its original to be truncated, deleted meanwhile, is forgotten', async () => {
  const log = join(dir, 'app.log');
  await writeFile(log, `${lines(0, 10).join('\n')}\n`);
  const ch = new RecordingChannel();
  const s = await start({ include: [join(dir, 'app.log*')], rotate_wait: '1h' }, ch);
  await waitFor('10 events', () => ch.events.length === 10);
  const deferred = trackerOf(s).ids.deferred;
  copyFileSync(log, `${log}.1`); // starts like the live file: a copytruncate copy in the making?
  await waitFor('the copy waiting', () => deferred.has(`${log}.1`));
  unlinkSync(`${log}.1`); // compressed, say, before the original was truncated
  await waitFor('the copy forgotten', () => deferred.size === 0, 2000);
  expect(ch.events.length).toBe(10);
});

test('a glob directory that does not exist yet is picked up when it appears', async () => {
  const ch = new RecordingChannel();
  await start({ include: [join(dir, 'later', '*', '*.log')], path_pattern: join(dir, 'later', '{service}', '{module}.log') }, ch);
  await mkdir(join(dir, 'later', 'billing'), { recursive: true });
  await writeFile(join(dir, 'later', 'billing', 'api.log'), 'hello\n');
  await waitFor('event from the new directory', () => ch.events.length === 1);
  expect(ch.events[0]).toMatchObject({ message: 'hello', service: 'billing', module: 'api', host: 'test-host' });
});

test('a FIFO the globs take holds up nothing: the files beside it are read, before and after it is found', async () => {
  execFileSync('mkfifo', [join(dir, 'pipe.log')]);
  await writeFile(join(dir, 'a.log'), 'first\n');
  const ch = new RecordingChannel();
  await start({ include: [join(dir, '*.log')] }, ch);
  await waitFor('the first line', () => ch.events.length === 1);
  // Notified at once, and found again by every rescan: never opened to wait for a writer.
  execFileSync('mkfifo', [join(dir, 'pipe2.log')]);
  await appendFile(join(dir, 'a.log'), 'second\n');
  await writeFile(join(dir, 'b.log'), 'third\n');
  await waitFor('every line', () => ch.events.length === 3);
  // Two files written at once: which is read first is up to the round, each line comes once.
  expect(ch.messages()[0]).toBe('first');
  expect(ch.messages().slice(1).sort()).toEqual(['second', 'third']);
});

test('CRLF, invalid UTF-8 and a partial line flushed after the idle timeout', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, Buffer.concat([Buffer.from('crlf\r\nbad '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\nno newline')]));
  const ch = new RecordingChannel();
  await start({ include: [log], partial_line_timeout: '100ms' }, ch);
  await waitFor('3 events', () => ch.events.length === 3);
  expect(ch.messages()).toEqual(['crlf', 'bad \uFFFD(\uFFFD', 'no newline']);
  expect(ch.events.map((e) => e.source.offset)).toEqual([0, 6, 14]);
  // The rest of the flushed line arrives later: it is a line of its own, nothing repeated.
  await appendFile(log, ' after all\n');
  await waitFor('4 events', () => ch.events.length === 4);
  expect(ch.messages()[3]).toBe(' after all');
});

test('long lines: a 50 KiB line intact by default; truncated, split or skipped beyond max_event_bytes, marked and counted', async () => {
  const big = 'é'.repeat(25_600); // 50 KiB
  const log = join(dir, 'a.log');
  await writeFile(log, `${big}\nshort\n`);
  const ch = new RecordingChannel();
  await start({ include: [log] }, ch, 'default');
  await waitFor('2 events', () => ch.events.length === 2);
  expect(ch.messages()).toEqual([big, 'short']);

  const t = new RecordingChannel();
  await start({ include: [log], max_event_bytes: '1KiB' }, t, 'truncating');
  await waitFor('2 events', () => t.events.length === 2);
  expect(t.messages()).toEqual(['é'.repeat(512), 'short']);
  expect(t.events[0]!.fields).toEqual({ 'log.truncated': true });
  expect(await counterValue('sluice_file_source_truncated_events_total', 'truncating')).toBe(1);

  const s = new RecordingChannel();
  await start({ include: [log], max_event_bytes: '1KiB', long_lines: 'split' }, s, 'splitting');
  await waitFor('all pieces', () => s.messages().includes('short'));
  expect(s.events.length).toBe(51);
  expect(s.messages().slice(0, 50).join('')).toBe(big);
  expect(s.events.slice(0, 49).every((e) => e.fields['log.split'] === true)).toBe(true);
  expect(s.events[49]!.fields).toEqual({});
  expect(new Set(s.events.map((e) => e.id)).size).toBe(51);

  const k = new RecordingChannel();
  await start({ include: [log], max_event_bytes: '1KiB', long_lines: 'skip' }, k, 'skipping');
  await waitFor('the short line', () => k.events.length === 1);
  expect(k.messages()).toEqual(['short']);
  expect(k.events[0]!.source.offset).toBe(Buffer.byteLength(big) + 1);
  expect(await counterValue('sluice_file_source_skipped_events_total', 'skipping')).toBe(1);
});

test('restart: resumes exactly at the checkpoint the channel holds, ids of re-read lines are stable', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, `${lines(0, 3000).join('\n')}\n`);
  const ch = new RecordingChannel();
  const s1 = await start({ include: [log], batch: { max_events: 100 } }, ch);
  await waitFor('1000 events', () => ch.events.length >= 1000);
  await stop(s1);
  const got = ch.events.length;
  // The source's own file and the channel agree here; drop the own file to prove the channel's copy suffices.
  await unlink(join(dir, 'files', 'checkpoint.json'));
  await appendFile(log, `${lines(3000, 3500).join('\n')}\n`);
  const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
  await start({ include: [log], batch: { max_events: 100 } }, ch2);
  await waitFor('the rest', () => got + ch2.events.length >= 3500);
  expect([...ch.messages(), ...ch2.messages()]).toEqual(lines(0, 3500));
  const e = ch2.events[0]!;
  expect(e.id).toBe(fileEventId(e.source.fileId!, e.source.offset!));
  expect(e.source.fileId).toBe(ch.events[0]!.source.fileId);
});

test('the own checkpoint file is written under a load that never lets the loop idle', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, `${lines(0, 3000).join('\n')}\n`);
  // A slow channel: the source always has a batch to read or to put, never a moment with nothing to do.
  class SlowChannel extends RecordingChannel {
    override async put(...args: Parameters<RecordingChannel['put']>): Promise<void> {
      await new Promise((r) => setTimeout(r, 20));
      return super.put(...args);
    }
  }
  const ch = new SlowChannel();
  const s = await start({ include: [log], batch: { max_events: 50 } }, ch);
  await waitFor('1000 events', () => ch.events.length >= 1000);
  const own = JSON.parse(await readFile(join(dir, 'files', 'checkpoint.json'), 'utf8')) as {
    state: { files: Record<string, { pos: number }> };
  };
  expect(ch.events.length).toBeLessThan(3000);
  const [entry] = Object.values(own.state.files);
  // Past the start, and never past what the channel accepted.
  expect(entry!.pos).toBeGreaterThan(0);
  const accepted = ch.events.at(-1)!;
  expect(entry!.pos).toBeLessThanOrEqual(accepted.source.offset! + Buffer.byteLength(accepted.message) + 1);
  await stop(s);
});

test('restart: the own checkpoint file wins when it is newer than the channel', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, `${lines(0, 10).join('\n')}\n`);
  const ch = new RecordingChannel();
  const s1 = await start({ include: [log] }, ch);
  await waitFor('10 events', () => ch.events.length === 10);
  await stop(s1);
  const own = JSON.parse(await readFile(join(dir, 'files', 'checkpoint.json'), 'utf8'));
  expect(own.seq).toBeGreaterThan(0);
  // A stale channel checkpoint (position 0, in the format of before patches) must lose against the newer own file.
  const stale = {
    source: 'files',
    seq: 0,
    state: { v: 1, files: Object.values(own.state.files).map((f) => ({ ...(f as object), pos: 0 })), lost: [] },
  };
  const ch2 = new RecordingChannel(stale);
  await start({ include: [log] }, ch2);
  await appendFile(log, 'eleven\n');
  await waitFor('only the new line', () => ch2.events.length === 1);
  expect(ch2.messages()).toEqual(['eleven']);
});

test('inode reuse: a new file with the same inode but other first bytes is read from its start', async () => {
  const log = join(dir, 'a.log');
  await writeFile(log, 'old content 1\nold content 2\n');
  const ch = new RecordingChannel();
  const s1 = await start({ include: [log] }, ch);
  await waitFor('2 events', () => ch.events.length === 2);
  await stop(s1);
  // Same inode, rewritten with other content of the same length while the source was down.
  await writeFile(log, 'NEW content 1\nNEW content 2\nNEW content 3\n');
  const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
  await start({ include: [log] }, ch2);
  await waitFor('3 events', () => ch2.events.length === 3);
  expect(ch2.messages()).toEqual(['NEW content 1', 'NEW content 2', 'NEW content 3']);
});

test('fields: static, captured from the path, parsed event time; start_at end on the first run', async () => {
  await mkdir(join(dir, 'checkout'));
  const log = join(dir, 'checkout', 'payments.log');
  await writeFile(log, 'before start\n');
  const ch = new RecordingChannel();
  await start(
    {
      include: [join(dir, '*', '*.log')],
      path_pattern: join(dir, '{service}', '{module}.log'),
      fields: { env: 'test' },
      timestamp: { pattern: '^(\\S+ \\S+)' },
      start_at: 'end',
    },
    ch,
  );
  await appendFile(log, '2024-03-01 12:00:00,250 INFO paid\nno time here\n');
  await waitFor('2 events', () => ch.events.length === 2);
  const [a, b] = ch.events;
  expect(a).toMatchObject({
    message: '2024-03-01 12:00:00,250 INFO paid',
    timestamp: Date.UTC(2024, 2, 1, 12, 0, 0, 250),
    service: 'checkout',
    module: 'payments',
    fields: { env: 'test' },
    source: { kind: 'file', path: log, offset: 13 },
  });
  // The pattern matched a text that is no time: the read time, and the text kept beside it.
  expect(Math.abs(b!.timestamp - Date.now())).toBeLessThan(60_000);
  expect(b!.fields).toEqual({ env: 'test', 'log.time_invalid': 'no time' });
});

test('an epoch in nanoseconds where milliseconds are expected: the read time, marked, counted; never NaN', async () => {
  const log = join(dir, 'epoch.log');
  await writeFile(log, '1700000000000 ok\n1700000000000000000 ns\n');
  const ch = new RecordingChannel();
  await start({ include: [log], timestamp: { pattern: '^(\\d+)', format: 'epoch_ms' } }, ch, 'epoch');
  await waitFor('2 events', () => ch.events.length === 2);
  const [ok, ns] = ch.events;
  expect(ok!.timestamp).toBe(1_700_000_000_000);
  expect(ok!.fields).toEqual({});
  expect(Number.isFinite(ns!.timestamp)).toBe(true);
  expect(Math.abs(ns!.timestamp - Date.now())).toBeLessThan(60_000);
  expect(ns!.fields).toEqual({ 'log.time_invalid': '1700000000000000000' });
  expect(await counterValue('sluice_file_source_invalid_times_total', 'epoch')).toBe(1);
});

test('the spec: strict options with defaults, a clear error for unknown keys', () => {
  expect(fileSourceSpec).toMatchObject({ kind: 'source', type: 'file' });
  const parsed = fileSourceSpec.options.parse({ include: ['/var/log/*.log'] });
  expect(parsed).toMatchObject({
    start_at: 'beginning',
    max_event_bytes: 900 * 1024,
    long_lines: 'truncate',
    exclude: [],
    batch: { max_events: 2048, max_bytes: 4 * 1024 * 1024, timeout: 50 },
    encoding: 'utf-8',
  });
  const bad = fileSourceSpec.options.safeParse({ include: ['/var/log/*.log'], incldue: [] });
  expect(bad.success).toBe(false);
  expect(fileSourceSpec.options.parse({ include: ['relative/*.log'], path_pattern: 'relative/{service}.log' })).toMatchObject({
    include: [join(process.cwd(), 'relative/*.log')],
    path_pattern: join(process.cwd(), 'relative/{service}.log'),
  });
});

import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import type { FileSource } from './source.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';
import { namedAfter, type Tracker } from './tracker.js';

/**
 * copytruncate (logrotate copies the live file, then truncates it) with the copies in the
 * globs: a copy slower to write than rotate_wait, a copy deleted right after the
 * truncation, and a line only partly read when the truncation is seen. Every line once,
 * whole, in order.
 */
const sources = sourcesUnderTest('file-copytruncate');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

const trackerOf = (s: FileSource): Tracker => (s as unknown as { tracker: Tracker }).tracker;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Longer than fingerprint_bytes within a few lines, so a copy's first chunk already starts like its original.
const line = (i: number): string => `line ${i} ${'x'.repeat(40)}`;
const lines = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => line(from + k));
const text = (from: number, to: number): string => `${lines(from, to).join('\n')}\n`;

/** Every event id once, and exactly these messages in this order. */
function expectInOrder(ch: RecordingChannel, want: string[]): void {
  expect(new Set(ch.events.map((e) => e.id)).size, 'duplicate event ids').toBe(ch.events.length);
  expect(ch.messages()).toEqual(want);
}

/** Waits until the source has read the file at `path` to its end (a partial last line included). */
async function readToEnd(s: FileSource, path: string): Promise<void> {
  await waitFor(`${path} read to its end`, () => trackerOf(s).at(path)?.readPos === statSync(path).size);
}

describe('a copy still being written when rotate_wait ends', () => {
  test('waits while it grows, then continues where the original was truncated: every line once, in order', async () => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, text(0, 100));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    // rotate_wait well above a pause of this test or the source on a loaded machine (a full
    // CI run once saw 1.5 s run out): the copy must never look still that long while written.
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '3s' }, ch, 'files', cap.logger);
    await waitFor('100 events', () => ch.events.length === 100);

    // A slow copy: 150 bytes every 150 ms, longer than rotate_wait in all. Its first write
    // holds a fingerprint: it starts like app.log from the first look on.
    const content = readFileSync(log);
    for (let at = 0; at < content.length; at += at === 0 ? 300 : 150) {
      appendFileSync(copy, content.subarray(at, at + (at === 0 ? 300 : 150)));
      await sleep(150);
    }
    expect(trackerOf(s).ids.deferred.has(copy), 'the copy still waiting').toBe(true);
    // Lines the source never reads from the original: written, copied, truncated in one go.
    appendFileSync(log, text(100, 105));
    appendFileSync(copy, text(100, 105));
    truncateSync(log, 0);
    await waitFor('the copy continued', () => ch.messages().includes(line(104)));
    appendFileSync(log, text(105, 110));
    await waitFor('110 events', () => ch.events.length >= 110);
    expectInOrder(ch, lines(0, 110));
    expect(cap.lines.find((l) => l.msg === 'file taken up' && l.path === copy)).toMatchObject({
      how: 'continued',
      pos: content.length,
      file_id: ch.events[0]!.source.fileId,
    });
  });

  test('a file that only starts like a followed one (its own lines after) waits rotate_wait, as after a rename rotation', async () => {
    const log = join(dir, 'app.log');
    const other = join(dir, 'app.log.1');
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '300ms', forget_after: '5s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    const created = Date.now();
    writeFileSync(other, text(0, 20));
    const otherLines = lines(0, 20);
    for (let i = 0; Date.now() - created < 1500; i++) {
      appendFileSync(other, `other ${i}\n`);
      otherLines.push(`other ${i}`);
      await sleep(30);
    }
    await waitFor('every line of both', () => ch.events.length >= 20 + otherLines.length);
    expectInOrder(ch, [...lines(0, 20), ...otherLines]);
    const taken = cap.lines.find((l) => l.msg === 'file taken up' && l.path === other)!;
    expect(taken).toMatchObject({ how: 'copy_after_wait', pos: 0 });
    expect(taken.time as number).toBeLessThan(created + 1200);
  });

  test('a file that mirrors a followed one for ever waits forget_after at most, then is read as a new file (logged)', async () => {
    const log = join(dir, 'app.log');
    const mirror = join(dir, 'app.log.mirror');
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '300ms', forget_after: '1s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    // A second writer copying every line, as tee would: its end is always the original's.
    const created = Date.now();
    writeFileSync(mirror, text(0, 20));
    let n = 20;
    for (; Date.now() - created < 1500; n++) {
      appendFileSync(log, `${line(n)}\n`);
      appendFileSync(mirror, `${line(n)}\n`);
      await sleep(30);
    }
    await waitFor('every line twice', () => ch.events.length >= 2 * n);
    const counts = new Map<string, number>();
    for (const m of ch.messages()) counts.set(m, (counts.get(m) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(lines(0, n).sort());
    expect([...counts.values()].every((c) => c === 2)).toBe(true);
    const taken = cap.lines.find((l) => l.msg === 'file taken up' && l.path === mirror)!;
    expect(taken).toMatchObject({ how: 'copy_after_wait', pos: 0 });
    expect(taken.time as number).toBeGreaterThanOrEqual(created + 1000);
    expect(cap.lines.find((l) => l.path === mirror && l.level === 40)).toMatchObject({
      msg: 'file starting like a followed one still grows after forget_after; reading it as a new file',
      like: log,
    });
  });
});

test('a copy deleted right after the truncation (compressed) still gives the lines the source had not read yet', async () => {
  const log = join(dir, 'app.log');
  const copy = `${log}.1`;
  writeFileSync(log, text(0, 10));
  const cap = captureLogger();
  const ch = new RecordingChannel();
  // No notifications and no rescan before the copy is gone: only the truncation leads to it.
  await sources.start({ include: [join(dir, 'app.log*')], watch: false, rescan_interval: '1h' }, ch, 'files', cap.logger);
  await waitFor('10 events', () => ch.events.length === 10);
  appendFileSync(log, text(10, 15));
  copyFileSync(log, copy);
  truncateSync(log, 0);
  await waitFor('the truncation seen', () => cap.lines.some((l) => l.msg === 'file truncated; reading it again from the start'));
  unlinkSync(copy);
  await waitFor('15 events', () => ch.events.length >= 15);
  appendFileSync(log, text(15, 20));
  await waitFor('20 events', () => ch.events.length >= 20);
  expectInOrder(ch, lines(0, 20));
});

describe('copytruncate while a line is only partly read', () => {
  /** app.log: ten lines and the start of an eleventh, read by the source (held: no newline yet). */
  async function partlyRead(include: string): Promise<{ log: string; s: FileSource; ch: RecordingChannel; fileId: string }> {
    const log = join(dir, 'app.log');
    writeFileSync(log, `${text(0, 10)}partial`);
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, include)], partial_line_timeout: '1h' }, ch);
    await waitFor('10 events', () => ch.events.length === 10);
    await readToEnd(s, log);
    return { log, s, ch, fileId: ch.events[0]!.source.fileId! };
  }

  test('the copy in the globs: the line comes out once and whole, from the copy', async () => {
    const { log, ch, fileId } = await partlyRead('app.log*');
    // The writer ends the line and writes another; logrotate copies, then truncates.
    appendFileSync(log, ` rest\n${line(11)}\n`);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    await waitFor('the copy read', () => ch.messages().includes(line(11)));
    appendFileSync(log, `${line(12)}\n`);
    await waitFor('13 events', () => ch.events.length >= 13);
    expectInOrder(ch, [...lines(0, 10), 'partial rest', line(11), line(12)]);
    const whole = ch.events[10]!;
    expect(whole.fields).toEqual({});
    expect(whole.source).toMatchObject({ path: `${log}.1`, fileId, offset: Buffer.byteLength(text(0, 10)) });
  });

  test('no copy in the globs: what was read of it is emitted at once, marked log.truncated; its rest is lost', async () => {
    const { log, ch, fileId } = await partlyRead('app.log');
    appendFileSync(log, ` rest\n${line(11)}\n`);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    await waitFor('the cut line', () => ch.events.length >= 11);
    appendFileSync(log, `${line(12)}\n`);
    await waitFor('12 events', () => ch.events.length >= 12);
    expectInOrder(ch, [...lines(0, 10), 'partial', line(12)]);
    expect(ch.events[10]).toMatchObject({
      fields: { 'log.truncated': true },
      source: { path: log, fileId, offset: Buffer.byteLength(text(0, 10)) },
    });
    expect(ch.events[11]!.fields).toEqual({});
  });

  test('a multiline event being joined: joined whole from the copy', async () => {
    const log = join(dir, 'app.log');
    writeFileSync(log, `${line(0)}\nERROR boom\n\tat a\n`);
    const ch = new RecordingChannel();
    // A joined event is complete when the next one starts, or after flush_timeout: long enough
    // for the truncation to come first, short enough to see the last event of each file.
    const s = await sources.start({ include: [join(dir, 'app.log*')], multiline: { preset: 'java', flush_timeout: '1s' } }, ch);
    await waitFor('the first event', () => ch.events.length === 1);
    await readToEnd(s, log);
    appendFileSync(log, `\tat b\n${line(1)}\n`);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    await waitFor('the copy read', () => ch.messages().includes(line(1)));
    appendFileSync(log, `${line(2)}\n`);
    await waitFor('4 events', () => ch.events.length >= 4);
    expectInOrder(ch, [line(0), 'ERROR boom\n\tat a\n\tat b', line(1), line(2)]);
  });
});

test('a file of another writer with the same first bytes is not taken for the copy of one truncated meanwhile', async () => {
  const a = join(dir, 'a.csv');
  const b = join(dir, 'b.csv');
  const header = 'ts,level,message';
  // First seen holding only its header: that is all its fingerprint knows.
  writeFileSync(a, `${header}\n`);
  const ch = new RecordingChannel();
  const s = await sources.start({ include: [join(dir, '*.csv')], rotate_wait: '2s' }, ch, 'files');
  await waitFor('the header', () => ch.events.length === 1);
  appendFileSync(
    a,
    `${lines(0, 10)
      .map((l) => `a ${l}`)
      .join('\n')}\n`,
  );
  await waitFor('11 events', () => ch.events.length === 11);
  // Another service's file with the same header and more bytes, waiting as a possible copy.
  const bLines = lines(0, 30).map((l) => `b ${l}`);
  writeFileSync(b, `${header}\n${bLines.join('\n')}\n`);
  await waitFor('b.csv waiting', () => trackerOf(s).ids.deferred.has(b));
  // a.csv's writer starts it again: a truncation, with no copy of it anywhere.
  writeFileSync(
    a,
    `${header}\n${lines(10, 15)
      .map((l) => `a ${l}`)
      .join('\n')}\n`,
  );
  await waitFor('every line', () => ch.events.length >= 11 + 6 + 31);
  const want = [header, ...lines(0, 15).map((l) => `a ${l}`), header, ...bLines, header].sort();
  expect(ch.messages().sort()).toEqual(want);
  expect(new Set(ch.events.map((e) => e.id)).size).toBe(ch.events.length);
});

describe('a copy shorter than what was read (the writer appended between the copy and the truncation)', () => {
  test('is taken for the copy and not read again: every line once, in order', async () => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '2s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    copyFileSync(log, copy);
    // Read from the original before the truncation, not in the copy.
    appendFileSync(log, text(20, 25));
    await waitFor('25 events', () => ch.events.length === 25);
    await readToEnd(s, log);
    truncateSync(log, 0);
    await waitFor('the copy taken up', () => cap.lines.some((l) => l.msg === 'file taken up' && l.path === copy));
    appendFileSync(log, text(25, 30));
    await waitFor('30 events', () => ch.events.length >= 30);
    await sleep(300);
    expectInOrder(ch, lines(0, 30));
    const taken = cap.lines.find((l) => l.msg === 'file taken up' && l.path === copy)!;
    expect(taken).toMatchObject({ how: 'continued', pos: statSync(copy).size, was: log });
    // Its own id, as a new file's: were it read after all, none of its events is one of app.log's.
    const { dev, ino } = statSync(copy);
    expect(taken.file_id).toMatch(new RegExp(`^${dev}:${ino}:`));
    expect(taken.file_id).not.toBe(ch.events[0]!.source.fileId);
  });

  test('two files that could each be the copy: neither is taken, both are read whole (the copy twice, nothing lost)', async () => {
    const log = join(dir, 'app.log');
    const copies = [`${log}.1`, `${log}-20261130`];
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '300ms' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    for (const copy of copies) copyFileSync(log, copy);
    appendFileSync(log, text(20, 25));
    await waitFor('25 events', () => ch.events.length === 25);
    await readToEnd(s, log);
    truncateSync(log, 0);
    await waitFor('both read', () => ch.events.length >= 65);
    await sleep(300);
    expect(ch.messages().sort()).toEqual([...lines(0, 25), ...lines(0, 20), ...lines(0, 20)].sort());
    for (const copy of copies) expect(cap.lines.find((l) => l.msg === 'file taken up' && l.path === copy)).toMatchObject({ pos: 0 });
  });

  test('a line read in part, the copy holding less of it: emitted once, marked log.truncated, as without a copy', async () => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, `${text(0, 10)}part`);
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '2s', partial_line_timeout: '1h' }, ch);
    await waitFor('10 events', () => ch.events.length === 10);
    await readToEnd(s, log);
    // The copy is made while the writer is in the middle of a line; the source reads more of it.
    copyFileSync(log, copy);
    appendFileSync(log, 'ial');
    await readToEnd(s, log);
    await waitFor('the copy waiting', () => trackerOf(s).ids.deferred.has(copy));
    truncateSync(log, 0);
    await waitFor('the cut line', () => ch.events.length >= 11);
    appendFileSync(log, `${line(12)}\n`);
    await waitFor('12 events', () => ch.events.length >= 12);
    await sleep(300);
    expectInOrder(ch, [...lines(0, 10), 'partial', line(12)]);
    expect(ch.events[10]).toMatchObject({
      fields: { 'log.truncated': true },
      source: { path: log, offset: Buffer.byteLength(text(0, 10)) },
    });
    expect(trackerOf(s).at(copy)?.readPos).toBe(statSync(copy).size);
  });

  test('a file of another run with the same output, named otherwise, is not taken for the copy: read as a new file', async () => {
    // A job's fixed output (no timestamps): its second run's log starts as the first one's.
    const step = (i: number): string => `step ${i}: loading module number ${i} of the pipeline ... ok`;
    const steps = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => step(from + k));
    const stepText = (from: number, to: number): string => `${steps(from, to).join('\n')}\n`;
    const job1 = join(dir, 'job-1.log');
    const job2 = join(dir, 'job-2.log');
    writeFileSync(job1, stepText(0, 60));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, '*.log')], rotate_wait: '2s' }, ch, 'files', cap.logger);
    await waitFor('60 events', () => ch.events.length === 60);
    await readToEnd(s, job1);
    writeFileSync(job2, stepText(0, 40));
    await waitFor('job-2.log waiting', () => trackerOf(s).ids.deferred.has(job2));
    // job-1.log emptied, no copy of it anywhere: job-2.log ends like the start of what was read
    // of it, but its name is not made from job-1.log's. It never grows.
    truncateSync(job1, 0);
    const of = (path: string): string[] => ch.events.filter((e) => e.source.path === path).map((e) => e.message);
    await waitFor('every line of job-2.log', () => of(job2).length >= 40);
    await sleep(300);
    expect(of(job1)).toEqual(steps(0, 60));
    expect(of(job2)).toEqual(steps(0, 40));
    expect(new Set(ch.events.map((e) => e.id)).size, 'an event id shared').toBe(ch.events.length);
    expect(cap.lines.find((l) => l.msg === 'file taken up' && l.path === job2)).toMatchObject({ how: 'new', pos: 0 });
    expect(cap.lines.filter((l) => l.level === 40)).toEqual([]);
  });

  test('a copy that grows after it was taken up was no copy: read again from its start, with a warning', async () => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '2s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    copyFileSync(log, copy);
    appendFileSync(log, text(20, 25));
    await waitFor('25 events', () => ch.events.length === 25);
    await readToEnd(s, log);
    truncateSync(log, 0);
    await waitFor('the copy taken up', () => trackerOf(s).has(copy));
    appendFileSync(copy, 'late 0\n');
    await waitFor('46 events', () => ch.events.length >= 46);
    await sleep(300);
    expect(ch.events.filter((e) => e.source.path === log).map((e) => e.message)).toEqual(lines(0, 25));
    expect(ch.events.filter((e) => e.source.path === copy).map((e) => e.message)).toEqual([...lines(0, 20), 'late 0']);
    expect(new Set(ch.events.map((e) => e.id)).size, 'an event id shared').toBe(ch.events.length);
    expect(cap.lines.filter((l) => l.level === 40)).toMatchObject([
      { msg: 'file taken for the copy of a truncated one grew after; reading it again from its start', path: copy, was: log },
    ]);
  });

  test.each([
    ['while the source is down', true],
    ['after the restart', false],
  ])('a copy followed across a restart that grows %s: read again from its start, with a warning', async (_, whileDown) => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const options = { include: [join(dir, 'app.log*')], rotate_wait: '2s' };
    let s = await sources.start(options, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    copyFileSync(log, copy);
    appendFileSync(log, text(20, 25));
    await waitFor('25 events', () => ch.events.length === 25);
    await readToEnd(s, log);
    truncateSync(log, 0);
    await waitFor('the copy taken up', () => trackerOf(s).at(copy)?.prefixOf === log);
    await sources.stop(s);
    if (whileDown) appendFileSync(copy, 'late 0\n');
    s = await sources.start(options, ch, 'files', cap.logger);
    if (!whileDown) {
      await waitFor('the copy resumed', () => trackerOf(s).has(copy));
      appendFileSync(copy, 'late 0\n');
    }
    await waitFor('46 events', () => ch.events.length >= 46);
    await sleep(300);
    expect(ch.events.filter((e) => e.source.path === log).map((e) => e.message)).toEqual(lines(0, 25));
    expect(ch.events.filter((e) => e.source.path === copy).map((e) => e.message)).toEqual([...lines(0, 20), 'late 0']);
    expect(new Set(ch.events.map((e) => e.id)).size, 'an event id shared').toBe(ch.events.length);
    expect(cap.lines.filter((l) => l.level === 40)).toMatchObject([
      { msg: 'file taken for the copy of a truncated one grew after; reading it again from its start', path: copy, was: log },
    ]);
  });

  test.each([
    ['shorter than what was read', true],
    ['holding all of it', false],
  ])(
    'a copy %s, taken up at its end and deleted, leaves a lost entry that another file with the same first bytes does not continue',
    async (_, shorter) => {
      // The same banner, longer than a fingerprint, at the start of every instance's log.
      const banner = `${'  .   ____          _            __ _ _\n'}${" /\\\\ / ___'_ __ _ _(_)_ __  __ _ \\ \\ \\ \\\n".repeat(8)}`;
      const served = (who: string, from: number, to: number): string[] =>
        Array.from({ length: to - from }, (_, k) => `${who} request ${from + k} served in ${(from + k) % 7} ms`);
      const servedText = (who: string, from: number, to: number): string => `${served(who, from, to).join('\n')}\n`;
      const log = join(dir, 'app-a.log');
      const copy = `${log}.1`;
      const other = join(dir, 'app-b.log');
      writeFileSync(log, banner + servedText('A', 0, 20));
      const cap = captureLogger();
      const ch = new RecordingChannel();
      const s = await sources.start({ include: [join(dir, '*.log*')], rotate_wait: '300ms' }, ch, 'files', cap.logger);
      await readToEnd(s, log);
      copyFileSync(log, copy);
      if (shorter) appendFileSync(log, servedText('A', 20, 22));
      await readToEnd(s, log);
      truncateSync(log, 0);
      await waitFor('the copy taken up', () => trackerOf(s).has(copy));
      unlinkSync(copy);
      await waitFor('the copy let go', () => cap.lines.some((l) => l.msg === 'file let go' && l.path === copy));
      writeFileSync(other, banner + servedText('B', 0, 40));
      const of = (path: string): string[] => ch.events.filter((e) => e.source.path === path).map((e) => e.message);
      await waitFor('every line of app-b.log', () => of(other).length >= 49);
      await sleep(300);
      expect(of(other)).toEqual([...banner.split('\n').slice(0, -1), ...served('B', 0, 40)]);
      expect(cap.lines.find((l) => l.msg === 'file taken up' && l.path === other)).toMatchObject({ how: 'new', pos: 0 });
    },
  );

  test('a shorter file ending like what was read but differing before that is no copy: read as a file of its own', async () => {
    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    writeFileSync(a, text(0, 30));
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, '*.log')], rotate_wait: '2s' }, ch);
    await waitFor('30 events', () => ch.events.length === 30);
    await readToEnd(s, a);
    // Its first bytes and its last 300 are a.log's at the same offsets, its middle lines not.
    const other = lines(8, 18).map((l) => l.replace('line', 'LINE'));
    writeFileSync(b, `${text(0, 8)}${other.join('\n')}\n${text(18, 25)}`);
    await waitFor('b.log waiting', () => trackerOf(s).ids.deferred.has(b));
    truncateSync(a, 0);
    await waitFor('every line of b.log', () => ch.events.length >= 55);
    await sleep(300);
    expect(ch.events.filter((e) => e.source.path === b).map((e) => e.message)).toEqual([...lines(0, 8), ...other, ...lines(18, 25)]);
  });

  test('a file of another writer with the same first bytes, shorter than what was read, is read as a file of its own', async () => {
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    const header = `ts,level,message,${'c'.repeat(300)}`;
    writeFileSync(
      a,
      `${header}\n${lines(0, 20)
        .map((l) => `a ${l}`)
        .join('\n')}\n`,
    );
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, '*.csv')], rotate_wait: '2s' }, ch);
    await waitFor('21 events', () => ch.events.length === 21);
    // Waiting as a possible copy: shorter than a.csv, its end within what was kept of it.
    const bLines = lines(0, 18).map((l) => `b ${l}`);
    writeFileSync(b, `${header}\n${bLines.join('\n')}\n`);
    await waitFor('b.csv waiting', () => trackerOf(s).ids.deferred.has(b));
    writeFileSync(a, `${header}\na again\n`);
    await waitFor('every line', () => ch.events.length >= 21 + 19 + 2);
    await sleep(300);
    expect(ch.messages().sort()).toEqual([header, ...lines(0, 20).map((l) => `a ${l}`), header, ...bLines, header, 'a again'].sort());
    expect(ch.events.filter((e) => e.source.path === b).map((e) => e.source.offset)[0]).toBe(0);
  });
});

test('numbered copytruncate rotations across a restart: every line once', async () => {
  const log = join(dir, 'app.log');
  const gen = (g: number, from: number, to: number): string[] => lines(from, to).map((l) => `gen${g} ${l}`);
  const genText = (g: number, from: number, to: number): string => `${gen(g, from, to).join('\n')}\n`;
  /** logrotate copytruncate with numbered copies; the copy written in one go, as cp does a small file. */
  const rotate = (): void => {
    renameSync(`${log}.1`, `${log}.2`);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
  };
  writeFileSync(`${log}.1`, genText(0, 0, 10));
  writeFileSync(log, genText(1, 0, 20));
  const ch = new RecordingChannel();
  const options = { include: [join(dir, 'app.log*')], rotate_wait: '2s' };
  let s = await sources.start(options, ch);
  await waitFor('30 events', () => ch.events.length === 30);
  rotate();
  appendFileSync(log, genText(2, 0, 20));
  await waitFor('50 events', () => ch.events.length === 50);
  await sources.stop(s);
  // Started again: app.log.1 (a copy now) and app.log resumed from the checkpoint.
  s = await sources.start(options, ch);
  await sleep(300);
  rotate();
  appendFileSync(log, genText(3, 0, 5));
  await waitFor('55 events', () => ch.events.length >= 55);
  await sleep(2500);
  expect(ch.messages().sort()).toEqual([...gen(0, 0, 10), ...gen(1, 0, 20), ...gen(2, 0, 20), ...gen(3, 0, 5)].sort());
});

describe('a copy first seen shorter than a fingerprint (cp creates the copy, then writes it)', () => {
  /** Waits until the source has looked at the file now at `path`: followed, or waiting as a copy. */
  async function seen(s: FileSource, path: string): Promise<void> {
    const { ino } = statSync(path);
    await waitFor(`${path} seen`, () => trackerOf(s).at(path)?.ino === ino || trackerOf(s).ids.deferred.has(path));
  }

  test.each([
    ['app.log.1', 0],
    ['app.log-20261130', 0],
    ['app.1.log', 0],
    ['app.log.1', 10],
  ])('%s first seen with %i bytes, then written, then app.log truncated: every line once, in order', async (name, first) => {
    const log = join(dir, 'app.log');
    const copy = join(dir, name);
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app*')], rotate_wait: '1s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    const content = readFileSync(log);
    writeFileSync(copy, content.subarray(0, first));
    await seen(s, copy);
    appendFileSync(copy, content.subarray(first));
    truncateSync(log, 0);
    appendFileSync(log, text(20, 30));
    await waitFor('30 events', () => ch.events.length >= 30);
    await sleep(1300);
    expectInOrder(ch, lines(0, 30));
    expect(cap.lines.filter((l) => l.msg === 'file taken up' && l.path === copy)).toMatchObject([
      { how: 'continued', pos: content.length, file_id: ch.events[0]!.source.fileId },
    ]);
  });

  test.each([
    ['after the restart', false],
    ['while the source is down', true],
  ])(
    'numbered rotation, app.log.1 checkpointed, shifted to app.log.2 and a new empty app.log.1 %s: no line twice',
    async (_, whileDown) => {
      const log = join(dir, 'app.log');
      const gen = (g: number, from: number, to: number): string[] => lines(from, to).map((l) => `gen${g} ${l}`);
      const genText = (g: number, from: number, to: number): string => `${gen(g, from, to).join('\n')}\n`;
      writeFileSync(`${log}.1`, genText(0, 0, 10));
      writeFileSync(log, genText(1, 0, 20));
      const ch = new RecordingChannel();
      const options = { include: [join(dir, 'app.log*')], rotate_wait: '1s' };
      let s = await sources.start(options, ch);
      await waitFor('30 events', () => ch.events.length === 30);
      await sources.stop(s);
      const shift = (): void => {
        renameSync(`${log}.1`, `${log}.2`);
        writeFileSync(`${log}.1`, '');
      };
      if (whileDown) shift();
      s = await sources.start(options, ch);
      await waitFor('app.log resumed', () => trackerOf(s).has(log));
      if (!whileDown) {
        await waitFor('app.log.1 resumed', () => trackerOf(s).has(`${log}.1`));
        shift();
      }
      await seen(s, `${log}.1`);
      appendFileSync(`${log}.1`, readFileSync(log));
      truncateSync(log, 0);
      appendFileSync(log, genText(2, 0, 5));
      await waitFor('35 events', () => ch.events.length >= 35);
      await sleep(1300);
      expect(ch.messages().sort()).toEqual([...gen(0, 0, 10), ...gen(1, 0, 20), ...gen(2, 0, 5)].sort());
      expect(new Set(ch.events.map((e) => e.id)).size, 'an event id shared').toBe(ch.events.length);
    },
  );

  /**
   * app.log followed with 20 lines read, and an empty app.log.1 waiting as its copy. Its
   * rotate_wait is long (10 s): a wait that ends "at once" is told from one that ran out by
   * a bound (5 s) a loaded machine does not reach.
   */
  async function emptyCopyWaiting() {
    const log = join(dir, 'app.log');
    const other = `${log}.1`;
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '10s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    writeFileSync(other, '');
    await waitFor('app.log.1 waiting', () => trackerOf(s).ids.deferred.has(other));
    return { log, other, cap, ch, s };
  }

  test('a new empty app.log.1 that gets lines of its own waits while empty, then is read as a new file at once', async () => {
    const { other, cap, ch } = await emptyCopyWaiting();
    const wrote = Date.now();
    writeFileSync(other, 'other 0\nother 1\n');
    await waitFor('22 events', () => ch.events.length >= 22);
    await sleep(300);
    expectInOrder(ch, [...lines(0, 20), 'other 0', 'other 1']);
    const taken = cap.lines.find((l) => l.msg === 'file taken up' && l.path === other)!;
    expect(taken).toMatchObject({ how: 'new', pos: 0 });
    expect(taken.time as number).toBeLessThan(wrote + 5000);
  });

  test('app.log truncated while the empty app.log.1 waits: the wait ends there, app.log.1 is read as a new file', async () => {
    const { log, other, cap, ch, s } = await emptyCopyWaiting();
    const truncated = Date.now();
    truncateSync(log, 0);
    appendFileSync(log, text(20, 25));
    await waitFor('app.log.1 taken up', () => trackerOf(s).has(other));
    await waitFor('25 events', () => ch.events.length >= 25);
    expectInOrder(ch, lines(0, 25));
    const taken = cap.lines.find((l) => l.msg === 'file taken up' && l.path === other)!;
    expect(taken).toMatchObject({ how: 'new', pos: 0 });
    expect(taken.time as number).toBeLessThan(truncated + 5000);
  });

  test('copytruncate of an empty log: the copy that stays empty is taken up rotate_wait after it was seen, nothing lost', async () => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, '');
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '500ms' }, ch, 'files', cap.logger);
    await waitFor('app.log followed', () => trackerOf(s).has(log));
    const created = Date.now();
    writeFileSync(copy, '');
    await seen(s, copy);
    truncateSync(log, 0);
    await waitFor('the copy taken up', () => trackerOf(s).has(copy));
    const taken = cap.lines.find((l) => l.msg === 'file taken up' && l.path === copy)!;
    expect(taken).toMatchObject({ how: 'copy_after_wait', pos: 0 });
    expect(taken.time as number).toBeGreaterThanOrEqual(created + 500);
    appendFileSync(log, text(0, 5));
    await waitFor('5 events', () => ch.events.length >= 5);
    await sleep(300);
    expectInOrder(ch, lines(0, 5));
  });

  test('logrotate create (app.log renamed to app.log.1, a new empty app.log): the new file does not wait', async () => {
    const log = join(dir, 'app.log');
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '3s' }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    renameSync(log, `${log}.1`);
    const created = Date.now();
    writeFileSync(log, '');
    await seen(s, log);
    expect(trackerOf(s).ids.deferred.size).toBe(0);
    appendFileSync(log, text(20, 25));
    await waitFor('25 events', () => ch.events.length >= 25);
    expectInOrder(ch, lines(0, 25));
    const taken = cap.lines.filter((l) => l.msg === 'file taken up' && l.path === log);
    expect(taken.at(-1)).toMatchObject({ how: 'new', pos: 0 });
    expect(taken.at(-1)!.time as number).toBeLessThan(created + 2000);
  });
});

describe('a copy waiting while the source is held up, then written, its original truncated, and the copy deleted (compress)', () => {
  /** Holds the channel's next put until the returned function is called. */
  function holdPuts(ch: RecordingChannel): () => void {
    let open!: () => void;
    ch.gate = new Promise((resolve) => {
      open = resolve;
    });
    return () => {
      ch.gate = undefined;
      open();
    };
  }

  test.each([
    ['first seen empty', 0],
    ['first seen with the first 300 bytes of app.log (starting like it)', 300],
  ])('%s: read through the handle it was seen with, every line once', async (_, first) => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, text(0, 20));
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '3s' }, ch);
    await waitFor('20 events', () => ch.events.length === 20);
    writeFileSync(copy, readFileSync(log).subarray(0, first));
    await waitFor('the copy waiting', () => trackerOf(s).ids.deferred.has(copy));
    const release = holdPuts(ch);
    const puts = ch.puts;
    appendFileSync(log, text(20, 30));
    await waitFor('a put held', () => ch.puts > puts);
    // Not read: the source waits in its put.
    appendFileSync(log, text(30, 40));
    writeFileSync(copy, readFileSync(log));
    truncateSync(log, 0);
    unlinkSync(copy);
    appendFileSync(log, text(40, 45));
    release();
    await waitFor('45 events', () => ch.events.length >= 45);
    await sleep(500);
    expect(ch.messages().sort()).toEqual(lines(0, 45).sort());
    expect(new Set(ch.events.map((e) => e.id)).size, 'an event id shared').toBe(ch.events.length);
    expect(trackerOf(s).ids.deferred.size).toBe(0);
  });
});

describe("a waiting copy's handle", () => {
  test('in another directory (olddir), looked at again after the truncation and before its original: continues through it', async () => {
    const log = join(dir, 'app.log');
    const old = join(dir, 'old');
    mkdirSync(old);
    const copy = join(old, 'app.log.1');
    writeFileSync(log, text(0, 20));
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [log, join(old, '*')], rotate_wait: '3s' }, ch);
    await waitFor('20 events', () => ch.events.length === 20);
    writeFileSync(copy, readFileSync(log));
    await waitFor('the copy waiting', () => trackerOf(s).ids.deferred.has(copy));
    let open!: () => void;
    ch.gate = new Promise((resolve) => (open = resolve));
    const puts = ch.puts;
    appendFileSync(log, text(20, 30));
    await waitFor('a put held', () => ch.puts > puts);
    appendFileSync(log, text(30, 40));
    writeFileSync(copy, readFileSync(log));
    truncateSync(log, 0);
    // The loop waits in its put: this is the order a rescan or a notification can give.
    await trackerOf(s).adopt(copy);
    unlinkSync(copy);
    appendFileSync(log, text(40, 45));
    ch.gate = undefined;
    open();
    await waitFor('45 events', () => ch.events.length >= 45);
    await sleep(500);
    expect(ch.messages().sort()).toEqual(lines(0, 45).sort());
  });

  test('is one of a bounded number: beyond a quarter of max_open_files, a file starting like a followed one is read at once', async () => {
    const log = join(dir, 'app.log');
    writeFileSync(log, text(0, 20));
    const cap = captureLogger();
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, '*.log')], rotate_wait: '10s', max_open_files: 8 }, ch, 'files', cap.logger);
    await waitFor('20 events', () => ch.events.length === 20);
    // A job's fixed banner: app.log's whole lines in its first 300 bytes and more, then lines of its own.
    const start = readFileSync(log);
    const head = start.subarray(0, start.indexOf('\n', 300) + 1);
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `job${i}.log`), Buffer.concat([head, Buffer.from(`own ${i}\n`)]));
    await waitFor(
      '3 read at once',
      () => ch.messages().filter((m) => m.startsWith('own ')).length === 3,
      20_000,
      () => JSON.stringify(ch.messages().slice(20)),
    );
    expect(trackerOf(s).ids.deferred.size).toBe(2);
    expect(trackerOf(s).fds.size).toBeLessThanOrEqual(8);
    expect(cap.lines.filter((l) => String(l.msg).startsWith('too many files waiting as copies'))).toHaveLength(3);
  });

  test('is counted against max_open_files: a file at its end is closed to make room for it', async () => {
    const log = join(dir, 'app.log');
    const other = join(dir, 'other.log');
    writeFileSync(other, 'other 0\n');
    writeFileSync(log, text(0, 20));
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, '*.log*')], rotate_wait: '3s', max_open_files: 2 }, ch);
    await waitFor('21 events', () => ch.events.length === 21);
    expect(trackerOf(s).fds.size).toBe(2);
    writeFileSync(`${log}.1`, '');
    await waitFor('the copy waiting', () => trackerOf(s).ids.deferred.has(`${log}.1`));
    expect(trackerOf(s).fds.size).toBe(2);
    expect([trackerOf(s).at(log)!.state, trackerOf(s).at(other)!.state].sort()).toEqual(['closed', 'following']);
  });

  test.each([
    ['its path is deleted, its original not truncated', 'deleted'],
    ['its wait ends (read as a new file)', 'taken'],
    ['the source stops', 'stopped'],
  ])('is closed once when %s', async (_, how) => {
    const log = join(dir, 'app.log');
    const copy = `${log}.1`;
    writeFileSync(log, text(0, 20));
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, 'app.log*')], rotate_wait: '500ms' }, ch);
    await waitFor('20 events', () => ch.events.length === 20);
    writeFileSync(copy, '');
    await waitFor('the copy waiting', () => trackerOf(s).ids.deferred.has(copy));
    const { fh } = trackerOf(s).ids.deferred.get(copy)!;
    expect(trackerOf(s).fds.size).toBe(2);
    if (how === 'deleted') {
      unlinkSync(copy);
      await waitFor('the copy given up', () => trackerOf(s).ids.deferred.size === 0);
      expect(fh.fd).toBe(-1);
      expect(trackerOf(s).fds.size).toBe(1);
      expect(trackerOf(s).count).toBe(1);
    } else if (how === 'taken') {
      await waitFor('the copy taken up', () => trackerOf(s).has(copy));
      expect(trackerOf(s).at(copy)!.fh).toBe(fh);
      expect(trackerOf(s).fds.size).toBe(2);
    } else {
      await sources.stop(s);
      expect(fh.fd).toBe(-1);
      expect(trackerOf(s).ids.deferred.size).toBe(0);
      expect(trackerOf(s).fds.size).toBe(0);
    }
  });
});

test('a shorter copy is one named after its original as logrotate names them', () => {
  for (const name of [
    'app.log.1',
    'app.log.12',
    'app.log-20261130',
    'app.log-2026-11-30',
    'app.log_20261130',
    'app.log.2026-11-30',
    'app.log-20261130-1764460800',
    'app.1.log',
    'app-20261130.log',
  ])
    expect(namedAfter('app.log', name), name).toBe(true);
  for (const name of [
    'app.log',
    'app.logs',
    'app.log1',
    'app.log.',
    'app.log-1',
    'app.log_1',
    'app.log.tmp',
    'app.log.1a',
    'app.log-2026',
    'app_1.log',
    'app-worker.log',
    'app.1.txt',
    'apps.1.log',
    'job-2.log',
    'other.log.1',
  ])
    expect(namedAfter('app.log', name), name).toBe(false);
  expect(namedAfter('job-1.log', 'job-2.log')).toBe(false);
  // Another run of a job beside the first one's log is no rotation of it.
  expect(namedAfter('job.log', 'job-2.log')).toBe(false);
  expect(namedAfter('messages', 'messages-20261130')).toBe(true);
  expect(namedAfter('messages', 'messages2')).toBe(false);
});

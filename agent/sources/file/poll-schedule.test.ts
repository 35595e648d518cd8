import { appendFileSync, linkSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { waitFor } from '../../../test/support/index.js';
import type { TailedFile } from './file.js';
import { ANNOUNCED_POLL_FACTOR, PollSchedule } from './poll-schedule.js';
import type { FileSource } from './source.js';
import { looksWhileIdle, RecordingChannel, sourcesUnderTest } from './testing.js';
import type { Tracker } from './tracker.js';

const file = (state: TailedFile['state'] = 'following'): TailedFile => ({ state }) as TailedFile;

describe('PollSchedule', () => {
  const every = 100;

  test('a file is polled every interval until an event announces one of its changes', () => {
    const s = new PollSchedule(every);
    const f = file();
    expect(s.due(f, 0)).toBe(true);
    s.lookedAt(f, 0, true, false);
    expect(s.due(f, 1)).toBe(true);
    s.lookedAt(f, 1, false, false);
    s.lookedAt(f, 1, false, true);
    expect(s.due(f, 2), 'an event that found nothing changed proves nothing').toBe(true);
    s.lookedAt(f, 2, true, true);
    expect(s.due(f, 2 + every)).toBe(false);
    expect(s.due(f, 2 + every * ANNOUNCED_POLL_FACTOR - 1)).toBe(false);
    expect(s.due(f, 2 + every * ANNOUNCED_POLL_FACTOR)).toBe(true);
  });

  test('a change the poll finds first puts the file back on every interval; looks finding nothing change nothing', () => {
    const s = new PollSchedule(every);
    const f = file();
    s.lookedAt(f, 0, true, true);
    s.lookedAt(f, 10, false, false);
    expect(s.due(f, 10 + every)).toBe(false);
    s.lookedAt(f, 10 + every * ANNOUNCED_POLL_FACTOR, true, false);
    expect(s.due(f, 11 + every * ANNOUNCED_POLL_FACTOR)).toBe(true);
  });

  test('an event whose callback came after the poll had found its change still announces the file', () => {
    const s = new PollSchedule(every);
    const f = file();
    s.lookedAt(f, 0, true, true);
    s.lookedAt(f, 10, true, false);
    expect(s.due(f, 11)).toBe(true);
    s.lookedAt(f, 11, false, true);
    expect(s.due(f, 12)).toBe(false);
    // Not once a poll looked in between: an event then proves nothing about that change.
    s.lookedAt(f, 20 + every * ANNOUNCED_POLL_FACTOR, true, false);
    s.lookedAt(f, 21 + every * ANNOUNCED_POLL_FACTOR, false, false);
    s.lookedAt(f, 22 + every * ANNOUNCED_POLL_FACTOR, false, true);
    expect(s.due(f, 23 + every * ANNOUNCED_POLL_FACTOR)).toBe(true);
  });

  test('a file renamed away is polled every interval, announced or not', () => {
    const s = new PollSchedule(every);
    const f = file();
    s.lookedAt(f, 0, true, true);
    expect(s.due(f, every)).toBe(false);
    f.state = 'detached';
    expect(s.due(f, every)).toBe(true);
  });
});

describe('the poll in a running source', () => {
  const sources = sourcesUnderTest('poll-schedule');
  const POLL_MS = 50;
  const trackerOf = (s: FileSource): Tracker => (s as unknown as { tracker: Tracker }).tracker;

  test('a file whose appends the watch announces is polled every 8 intervals, not every one', async () => {
    const logs = join(sources.dir, 'logs');
    mkdirSync(logs);
    const log = join(logs, 'app.log');
    writeFileSync(log, '');
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(logs, '*.log')], poll_interval: `${POLL_MS}ms` }, ch);
    await waitFor('the file taken up', () => trackerOf(source).has(log));
    for (let i = 0; i < 3; i++) {
      appendFileSync(log, `line ${i}\n`);
      await waitFor(`line ${i}`, () => ch.events.length === i + 1);
    }
    // 1.2 s: 24 polls, of which 3 (every 400 ms) look at an announced file.
    const looks = await looksWhileIdle(source, log, 1200);
    expect(looks).toBeLessThanOrEqual(6);
    expect(looks, 'the safety net still looks').toBeGreaterThanOrEqual(1);
  });

  test('an append the watch does not announce (written through a hard link in a directory not watched) is read, and the file is polled every interval again', async () => {
    const logs = join(sources.dir, 'logs');
    const elsewhere = join(sources.dir, 'elsewhere');
    mkdirSync(logs);
    mkdirSync(elsewhere);
    const log = join(logs, 'app.log');
    // inotify reports a write in the directory of the name it was opened by: through this
    // one, the watch on logs/ sees nothing.
    const quiet = join(elsewhere, 'app.log');
    writeFileSync(log, '');
    linkSync(log, quiet);
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(logs, '*.log')], poll_interval: `${POLL_MS}ms` }, ch);
    await waitFor('the file taken up', () => trackerOf(source).has(log));
    // The first look only learns the size: the second append is the evidence.
    for (let i = 0; i < 2; i++) {
      appendFileSync(log, `line ${i}\n`);
      await waitFor(`line ${i}`, () => ch.events.length === i + 1);
    }
    expect(await looksWhileIdle(source, log, 1200)).toBeLessThanOrEqual(6);

    appendFileSync(quiet, 'line 2\n');
    await waitFor('line 2', () => ch.events.length === 3);
    expect(await looksWhileIdle(source, log, 1200)).toBeGreaterThanOrEqual(9);
    expect(ch.messages()).toEqual(['line 0', 'line 1', 'line 2']);
  });

  test('a file renamed away is polled every interval while events for its old name keep coming (a new file there)', async () => {
    const log = join(sources.dir, 'app.log');
    writeFileSync(log, 'old 0\n');
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(sources.dir, '*.log')], poll_interval: `${POLL_MS}ms`, rotate_wait: '10s' }, ch);
    await waitFor('old 0', () => ch.events.length === 1);
    const old = trackerOf(source).at(log)!;
    renameSync(log, join(sources.dir, 'app.log.1'));
    writeFileSync(log, '');
    await waitFor('the new file taken up', () => trackerOf(source).at(log) !== old && trackerOf(source).at(log) !== undefined);
    const spy = vi.spyOn(trackerOf(source), 'check');
    let n = 0;
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      appendFileSync(log, `new ${n++}\n`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const looksAtOld = spy.mock.calls.filter(([f]) => f === old).length;
    spy.mockRestore();
    // 20 polls in that second: the old file, whose late lines no event names, is looked at by each.
    expect(looksAtOld).toBeGreaterThanOrEqual(12);
    await waitFor('every new line', () => ch.events.length === n + 1);
  });

  test('without events, a new file under the name of one renamed away is found by the poll, not after rotate_wait', async () => {
    const log = join(sources.dir, 'app.log');
    writeFileSync(log, 'old\n');
    const ch = new RecordingChannel();
    await sources.start(
      { include: [join(sources.dir, '*.log')], watch: false, poll_interval: `${POLL_MS}ms`, rotate_wait: '30s', rescan_interval: '1h' },
      ch,
    );
    await waitFor('old', () => ch.events.length === 1);
    renameSync(log, join(sources.dir, 'app.log.1'));
    // Seen renamed away (its name empty) before the new file comes.
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(log, 'new\n');
    await waitFor('new', () => ch.events.length === 2, 5000);
    expect(ch.messages()).toEqual(['old', 'new']);
  });
});

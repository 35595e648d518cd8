import { appendFileSync, copyFileSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import type { FileSourceState, LostEntry } from './checkpoint.js';
import type { FileSource } from './source.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';

/**
 * Files rotated while the source was down (issue: 5,078 of 60,000 lines lost with the
 * example's `*.log` globs): a checkpointed file whose path now holds another file is found
 * by identity in its directory, whatever its new name, and read to its end.
 */
const sources = sourcesUnderTest('file-recovery');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

const line = (i: number): string => `line ${i}`;
const lines = (from: number, to: number): string => `${Array.from({ length: to - from }, (_, k) => line(from + k)).join('\n')}\n`;
const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => line(i));

async function run(ch: RecordingChannel, log = captureLogger()): Promise<{ s: FileSource; lines: Record<string, unknown>[] }> {
  const s = await sources.start({ include: [join(dir, '*.log')] }, ch, 'files', log.logger);
  return { s, lines: log.lines };
}

const stop = (s: FileSource): Promise<void> => sources.stop(s);

/** A first run that reads `n` lines of app.log and stops: its channel holds the checkpoint. */
async function readThenStop(n: number): Promise<{ log: string; ch: RecordingChannel }> {
  const log = join(dir, 'app.log');
  writeFileSync(log, lines(0, n));
  const ch = new RecordingChannel();
  const first = await run(ch);
  await waitFor(`${n} events`, () => ch.events.length === n);
  await stop(first.s);
  return { log, ch };
}

function letGo(logs: Record<string, unknown>[], path: string): boolean {
  return logs.some((l) => l.msg === 'file let go' && l.path === path);
}

function expectOnce(events: RecordingChannel['events'], want: string[]): void {
  expect(new Set(events.map((e) => e.id)).size, 'duplicate event ids').toBe(events.length);
  expect(events.map((e) => e.message).sort()).toEqual([...want].sort());
}

describe('rotation while the source was down', () => {
  test('app.log renamed to app.log.1 (outside *.log), written to, a new app.log created: every line exactly once', async () => {
    const { log, ch } = await readThenStop(1000);

    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, lines(1000, 1500)); // the service wrote on until it reopened its log
    writeFileSync(log, lines(1500, 2000));
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    const second = await run(ch2);
    await waitFor('the moved file read and let go', () => letGo(second.lines, log) && ch2.events.length >= 1000);
    expectOnce([...ch.events, ...ch2.events], expected(2000));

    // The moved file's events keep the name it was followed under and its identity.
    const moved = ch2.events.filter((e) => e.message === line(1000))[0]!;
    expect(moved.source).toMatchObject({ path: log, fileId: ch.events[0]!.source.fileId });
    expect(second.lines.find((l) => l.msg === 'file taken up' && l.how === 'moved_while_stopped')).toMatchObject({
      path: log,
      found_at: `${log}.1`,
      pos: Buffer.byteLength(lines(0, 1000)),
    });
  });

  test('rotated twice while down (app.log -> .1 -> .2): still found by identity', async () => {
    const { log, ch } = await readThenStop(100);

    appendFileSync(log, lines(100, 150));
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(150, 200));
    renameSync(`${log}.1`, `${log}.2`);
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(200, 250));
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    const second = await run(ch2);
    // The middle generation was never seen: it was created and rotated while we were down,
    // and its name is outside the globs. Only files the checkpoint knew are looked for.
    await waitFor('the moved file let go', () => letGo(second.lines, log) && ch2.messages().includes(line(249)));
    expectOnce([...ch.events, ...ch2.events], [...expected(150), ...expected(250).slice(200)]);
  });

  test('copytruncate while down, the copy sorting first (app.1.log before app.log): it continues the checkpoint, every line once', async () => {
    const { log, ch } = await readThenStop(20);
    const copy = join(dir, 'app.1.log');
    copyFileSync(log, copy);
    truncateSync(log, 0);
    writeFileSync(log, lines(20, 25));
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    const second = await run(ch2);
    await waitFor('the new lines', () => ch2.messages().includes(line(24)));
    await waitFor('a checkpoint written after them', () => ch2.checkpoints.length > 0);
    expectOnce([...ch.events, ...ch2.events], expected(25));
    expect(second.lines.find((l) => l.msg === 'file taken up' && l.path === copy)).toMatchObject({
      how: 'continued',
      pos: Buffer.byteLength(lines(0, 20)),
      file_id: ch.events[0]!.source.fileId,
    });
  });

  test('a checkpointed file deleted while down is remembered as lost; the new file is read from its start', async () => {
    const { log, ch } = await readThenStop(10);
    unlinkSync(log);
    writeFileSync(log, lines(10, 20));
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    await run(ch2);
    await waitFor('the new file', () => ch2.events.length === 10);
    expectOnce([...ch.events, ...ch2.events], expected(20));
    await waitFor('a checkpoint with the old file as lost', () => {
      const state = ch2.lastCheckpoint()?.state as { lost: { path: string }[] } | undefined;
      return ch2.checkpoints.length > 0 && state!.lost.some((l) => l.path === log);
    });
  });
});

/**
 * A job's fixed banner, longer than a fingerprint, run again: its new log starts like the old
 * one's, and is at least as long. A lost entry continues only in a file holding the bytes
 * last read before its position, known after a restart by their digest in the checkpoint.
 */
describe('lost entries across a restart', () => {
  const banner = '  .   ____          _            __ _ _\n'.repeat(10);
  const job = (who: string, from: number, to: number): string[] =>
    Array.from({ length: to - from }, (_, k) => `${who} request ${from + k}`);
  const text = (ls: string[]): string => `${ls.join('\n')}\n`;
  const bannerLines = banner.trimEnd().split('\n');

  async function readJob(log: string, n: number): Promise<{ ch: RecordingChannel; s: FileSource; lines: Record<string, unknown>[] }> {
    writeFileSync(log, banner + text(job('A', 0, n)));
    const ch = new RecordingChannel();
    const first = await run(ch);
    await waitFor('the first run', () => ch.events.length === bannerLines.length + n);
    return { ch, ...first };
  }

  /**
   * Starts again from the first run's last checkpoint, and the job runs again: its new log,
   * with the same banner, must be read from its start, every line once.
   */
  async function newLogAfterRestart(firstCh: RecordingChannel, log: string): Promise<void> {
    const ch2 = new RecordingChannel(firstCh.checkpoints.at(-1));
    const second = await run(ch2);
    writeFileSync(log, banner + text(job('B', 0, 40)));
    await waitFor('the new log', () => ch2.messages().includes('B request 39'));
    expectOnce(ch2.events, [...bannerLines, ...job('B', 0, 40)]);
    expect(second.lines.find((l) => l.msg === 'file taken up' && l.path === log)).toMatchObject({ how: 'new', pos: 0 });
  }

  /** The lost entry of `path` in the checkpoint file a stopped source wrote. */
  function lostIn(path: string): LostEntry | undefined {
    const cp = JSON.parse(readFileSync(join(dir, 'files', 'checkpoint.json'), 'utf8')) as { state: FileSourceState };
    return cp.state.lost.find((l) => l.path === path);
  }

  test('let go, then the job runs again after a restart: its new log is read from its start', async () => {
    const log = join(dir, 'job.log');
    const first = await readJob(log, 20);
    unlinkSync(log);
    await waitFor('let go', () => letGo(first.lines, log));
    await stop(first.s);
    expect(lostIn(log)!.tail).toMatch(/^[0-9a-f]{8}$/);

    await newLogAfterRestart(first.ch, log);
  });

  test('deleted while down, the job run again after the restart: its new log is read from its start', async () => {
    const log = join(dir, 'job.log');
    const first = await readJob(log, 20);
    await stop(first.s);
    unlinkSync(log);

    // Found gone at the start: remembered as lost, with the digest its checkpoint entry had.
    await newLogAfterRestart(first.ch, log);
  });

  test('moved away while down and copied back, grown, after the restart: it continues, every line once', async () => {
    const log = join(dir, 'job.log');
    const first = await readJob(log, 20);
    await stop(first.s);
    const away = join(dir, 'job.saved');
    copyFileSync(log, away);
    unlinkSync(log);

    const ch2 = new RecordingChannel(first.ch.checkpoints.at(-1));
    const second = await run(ch2);
    appendFileSync(away, text(job('A', 20, 30)));
    copyFileSync(away, log);
    await waitFor('the lines after the position', () => ch2.messages().includes('A request 29'));
    expectOnce([...first.ch.events, ...ch2.events], [...bannerLines, ...job('A', 0, 30)]);
    expect(second.lines.find((l) => l.msg === 'file taken up' && l.path === log)).toMatchObject({
      how: 'continued',
      pos: Buffer.byteLength(banner + text(job('A', 0, 20))),
      file_id: first.ch.events[0]!.source.fileId,
    });
  });
});

import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, test, vi } from 'vitest';
import type { LogEvent } from '../../../core/event.js';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import { silentLogger } from '../../../core/log.js';
import type { ChannelWriter, SourceCheckpoint } from '../../../core/pipeline.js';
import { DiskChannel, type DiskChannelConfig } from '../../channel/disk/disk-channel.js';
import { checkFrame } from '../../channel/disk/format/frame.js';
import { SEGMENT_HEADER_BYTES, segmentName } from '../../channel/disk/format/segment-file.js';
import type { FileSource } from './source.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';
import { Tracker } from './tracker.js';

/** Checkpoints put as patches of the last state the channel accepted (README.md, "Checkpoint format"). */
const sources = sourcesUnderTest('file-patches');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

const trackerOf = (s: FileSource): Tracker => (s as unknown as { tracker: Tracker }).tracker;
const lines = (name: string, from: number, to: number): string =>
  Array.from({ length: to - from }, (_, k) => `${name} ${from + k} ${'p'.repeat((from + k) % 40)}\n`).join('');

/** A disk channel in the test's directory, every write synced. */
function channelConfig(segmentBytes: number): DiskChannelConfig {
  return {
    path: join(dir, 'channel'),
    maxBytes: 64 << 20,
    segmentBytes,
    fsync: 'always',
    commitFsync: 'always',
    readCacheBytes: 0,
    retryBackoffMaxMs: 50,
  };
}

/** A disk channel as the source sees it, keeping what was put (events only once their put resolved). */
class Recorder implements ChannelWriter {
  readonly events: LogEvent[] = [];
  readonly sent: SourceCheckpoint[] = [];

  constructor(readonly channel: DiskChannel) {}

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint, signal?: AbortSignal): Promise<void> {
    await this.channel.put(events, checkpoint, signal);
    this.events.push(...events);
    if (checkpoint) this.sent.push(structuredClone(checkpoint));
  }

  lastCheckpoint(source: string): SourceCheckpoint | undefined {
    return this.channel.lastCheckpoint(source);
  }
}

describe('file source checkpoints as patches', () => {
  test('a restart in process and after a stop, from a disk channel with only patches since the first whole state, resumes exactly', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const logs = names.map((n) => join(dir, `${n}.log`));
    for (const [i, log] of logs.entries()) writeFileSync(log, lines(names[i]!, 0, 100));
    const config = channelConfig(16 * 1024);
    let channel = new DiskChannel(config, 'ch', silentLogger());
    await channel.open();
    const ch = new Recorder(channel);
    const cap = captureLogger();
    // No whole state but the first of each start: everything after it is a patch.
    const options = { include: [join(dir, '*.log')], batch: { max_events: 20 }, checkpoint_interval: '1h' };
    const first = await sources.start(options, ch as unknown as RecordingChannel, 'files', cap.logger);
    await waitFor('500 events', () => ch.events.length === 500);
    expect(ch.sent.length).toBeGreaterThan(20);
    expect(ch.sent.map((c) => c.patch === true)).toEqual([false, ...ch.sent.slice(1).map(() => true)]);
    // What the channel merged is what the source would have put whole.
    expect(channel.lastCheckpoint('files')).toStrictEqual({
      source: 'files',
      seq: ch.sent.at(-1)!.seq,
      run: ch.sent[0]!.run,
      state: trackerOf(first).state(),
    });

    // An unexpected error restarts the loop: its first put is whole again.
    const housekeeping = Tracker.prototype.housekeeping;
    const spy = vi.spyOn(Tracker.prototype, 'housekeeping').mockImplementationOnce(async () => {
      throw new Error('housekeeping bug');
    });
    await waitFor(
      'the restart',
      () => cap.lines.some((l) => l.msg === 'file source failed; restarting from the last durable position'),
      10_000,
    );
    spy.mockImplementation(housekeeping);
    const beforeRestart = ch.sent.length;
    for (const [i, log] of logs.entries()) appendFileSync(log, lines(names[i]!, 100, 200));
    await waitFor('1000 events', () => ch.events.length === 1000, 10_000);
    spy.mockRestore();
    const since = ch.sent.slice(beforeRestart);
    expect(since.map((c) => c.patch === true)).toEqual([false, ...since.slice(1).map(() => true)]);
    expect(since[0]!.run, 'the restarted loop is a new run').not.toBe(ch.sent[0]!.run);
    expect(channel.lastCheckpoint('files')).toStrictEqual({
      source: 'files',
      seq: ch.sent.at(-1)!.seq,
      run: since[0]!.run,
      state: trackerOf(first).state(),
    });

    // Some committed: segments deleted, the pointer holds the merged state.
    for (let taken = 0; taken < 700; ) {
      const tx = await channel.take(700 - taken);
      taken += tx.events.length;
      await tx.commit();
    }
    await sources.stop(first);
    const held = channel.lastCheckpoint('files');
    await channel.close();
    // Only the channel's copy: the own checkpoint file would be as new.
    await unlink(join(dir, 'files', 'checkpoint.json'));
    for (const [i, log] of logs.entries()) appendFileSync(log, lines(names[i]!, 200, 250));

    channel = new DiskChannel(config, 'ch', silentLogger());
    await channel.open();
    expect(channel.lastCheckpoint('files')).toStrictEqual(held);
    const ch2 = new Recorder(channel);
    const second = await sources.start(options, ch2 as unknown as RecordingChannel, 'files');
    await waitFor('the 250 lines written after', () => ch2.events.length === 250, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(ch2.sent[0]!.patch).toBeUndefined();
    const messages = [...ch.events, ...ch2.events].map((e) => e.message);
    for (const [i, n] of names.entries()) {
      const expected = lines(n, 0, 250).split('\n').slice(0, -1);
      expect(messages.filter((m) => m.startsWith(`${n} `))).toEqual(expected);
      expect(statSync(logs[i]!).size).toBe(Buffer.byteLength(lines(n, 0, 250)));
    }
    expect(messages).toHaveLength(1250);
    await sources.stop(second);
    await channel.close();
  });

  test('a put where 1 of 100 files moved carries that entry alone: a few hundred bytes instead of the whole table', async () => {
    const logs = Array.from({ length: 100 }, (_, i) => join(dir, `app-${String(i).padStart(3, '0')}.log`));
    for (const log of logs) writeFileSync(log, lines('one', 0, 1));
    const ch = new RecordingChannel();
    const s = await sources.start({ include: [join(dir, '*.log')], checkpoint_interval: '1h' }, ch);
    await waitFor('100 events', () => ch.events.length === 100);
    const puts = ch.sent.length;
    appendFileSync(logs[42]!, lines('two', 1, 2));
    await waitFor('the put of the new line', () => ch.events.length === 101);
    expect(ch.sent).toHaveLength(puts + 1);
    const patch = ch.sent.at(-1)!;
    const st = statSync(logs[42]!);
    const entry = trackerOf(s).state().files[`${st.dev}:${st.ino}`]!;
    expect(entry).toMatchObject({ path: logs[42], pos: st.size });
    expect(patch).toStrictEqual({
      source: 'files',
      seq: patch.seq,
      run: ch.sent[0]!.run,
      patch: true,
      base: ch.sent.at(-2)!.seq,
      state: { files: { [`${st.dev}:${st.ino}`]: { prefixOf: null, tail: null, ...entry } } },
    });
    const bytes = Buffer.byteLength(JSON.stringify(patch));
    const whole = Buffer.byteLength(JSON.stringify({ ...patch, state: trackerOf(s).state() }));
    expect(bytes).toBeLessThan(400);
    expect(whole).toBeGreaterThan(40 * bytes);
    // The channel's merged state is the whole one.
    expect(ch.lastCheckpoint()!.state).toStrictEqual(trackerOf(s).state());
  });
});

describe('a chain of patches broken by a damaged record', () => {
  test('with start_at: end and no checkpoint file, the source resumes from the older checkpoint: lines come again, none is skipped', async () => {
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const config = channelConfig(1 << 20);
    let channel = new DiskChannel(config, 'ch', silentLogger());
    await channel.open();
    const ch = new Recorder(channel);
    const options = { include: [join(dir, '*.log')], start_at: 'end' as const, batch: { max_events: 5 }, checkpoint_interval: '1h' };
    const first = await sources.start(options, ch as unknown as RecordingChannel, 'files');
    for (let i = 0; i < 6; i++) {
      appendFileSync(log, lines('up', i * 5, i * 5 + 5));
      await waitFor(`batch ${i}`, () => ch.events.length === i * 5 + 5);
    }
    await sources.stop(first);
    await channel.close();
    expect(ch.sent.filter((c) => c.patch).length).toBeGreaterThanOrEqual(4);
    await unlink(join(dir, 'files', 'checkpoint.json'));

    // One byte of the third record (a patch) flipped: its CRC fails and recovery skips it.
    const segment = join(dir, 'channel', segmentName(1));
    const bytes = readFileSync(segment);
    let at = SEGMENT_HEADER_BYTES;
    for (let r = 0; r < 2; r++) {
      const frame = checkFrame(bytes, at, bytes.length);
      if (frame.kind !== 'ok') throw new Error(`record ${r}: ${frame.kind}`);
      at += frame.length;
    }
    bytes[at + 30] = bytes[at + 30]! ^ 0x01;
    writeFileSync(segment, bytes);
    appendFileSync(log, lines('down', 0, 3));

    channel = new DiskChannel(config, 'ch', silentLogger());
    await channel.open();
    expect(channel.lastCheckpoint('files'), 'the checkpoint before the damaged patch').toBeDefined();
    const ch2 = new Recorder(channel);
    await sources.start(options, ch2 as unknown as RecordingChannel, 'files');
    await waitFor('the lines written while stopped', () => ch2.events.some((e) => e.message.startsWith('down 2')));
    const again = ch2.events.map((e) => e.message.split(' ').slice(0, 2).join(' '));
    expect(again.slice(-3)).toEqual(['down 0', 'down 1', 'down 2']);
    // From the checkpoint of the second record (lines up to 9) on: what came after it comes again.
    expect(again[0]).toBe('up 10');
    expect(again).toHaveLength(20 + 3);
    await channel.close();
  });
});

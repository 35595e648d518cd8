import { copyFile, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isValidEventTime, type LogEvent, TIME_INVALID_FIELD } from '../../../core/event.js';
import { silentLogger } from '../../../core/log.js';
import { PutAbortedError } from '../../../core/pipeline.js';
import { metrics } from '../../../core/metrics.js';
import { tempDir, waitFor } from '../../../test/support/index.js';
import { eventNumber, makeEvent } from '../testkit.js';
import { DiskChannel } from './disk-channel.js';
import { diskChannelsUnderTest } from './testing.js';
import { encodeRecord, SEGMENT_HEADER } from './format/record.js';
import { SEGMENT_HEADER_BYTES, segmentName } from './format/segment-file.js';
import { ConfigError, formatProblem } from '../../../config/errors.js';
import { parseConfig } from '../../../config/load.js';
import { Registry } from '../../../core/registry.js';
import { diskChannelOptions, diskChannelSpec } from './index.js';
import { decodeSlot, POINTER_SLOTS, PointerStore } from './pointer.js';

/** The prototype of node's FileHandle, to make one of its calls fail or count. */
async function fileHandlePrototype(dir: string): Promise<Record<'write' | 'datasync', (...args: never[]) => Promise<unknown>>> {
  const fh = await open(join(dir, 'probe'), 'w');
  await fh.close();
  return Object.getPrototypeOf(fh);
}

function decodeSlotSeq(buf: Buffer): number {
  const read = decodeSlot(buf);
  return read.kind === 'ok' ? read.seq : -1;
}

const setup = diskChannelsUnderTest('disk');
/** Directories the pointer tests make for themselves. */
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/**
 * An event of a fixture as the channel delivers it: format 1 stored wire JSON, which the
 * wire decoder now reads the way a collector would, keeping a time no sink can store at the
 * read time with the claimed one in `log.time_invalid`.
 */
function asDelivered(e: LogEvent, version: number): LogEvent {
  if (version !== 1 || isValidEventTime(e.timestamp)) return e;
  return { ...e, timestamp: expect.any(Number) as unknown as number, fields: { ...e.fields, [TIME_INVALID_FIELD]: e.timestamp } };
}

const batch = (from: number, n: number, size = 0): LogEvent[] => Array.from({ length: n }, (_, i) => makeEvent(from + i, size));

async function drain(channel: DiskChannel): Promise<number[]> {
  const ids: number[] = [];
  const ac = new AbortController();
  ac.abort();
  for (;;) {
    const tx = await channel.take(10_000, ac.signal);
    if (tx.events.length === 0) return ids;
    ids.push(...tx.events.map(eventNumber));
    await tx.commit();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('disk channel recovery from damaged files', () => {
  it('skips a record with a flipped bit in the middle of a segment, says where and how many bytes, and delivers the rest', async () => {
    const { dir, open } = await setup();
    let { channel } = await open();
    for (let b = 0; b < 5; b++) await channel.put(batch(b * 10, 10));
    await channel.close();
    const sizes = [0, 1, 2].map((b) => encodeRecord(batch(b * 10, 10), undefined).length);
    const third = SEGMENT_HEADER_BYTES + sizes[0]! + sizes[1]!;
    const path = join(dir, segmentName(1));
    const bytes = await readFile(path);
    bytes[third + 40] = bytes[third + 40]! ^ 0x10;
    await writeFile(path, bytes);

    const reopened = await open();
    channel = reopened.channel;
    const damage = reopened.lines.find((l) => l.msg === 'damaged channel data skipped');
    expect(damage).toMatchObject({ segment: path, offset: third, bytes: sizes[2], reason: 'checksum mismatch' });
    expect(channel.stats().events).toBe(40);
    expect(await drain(channel)).toEqual([...range(0, 20), ...range(30, 50)]);
    expect(
      Number(
        (await metrics.getSingleMetric('sluice_channel_corrupt_bytes_total')!.get()).values.find((v) => v.labels.component === 'disk-test')
          ?.value,
      ),
    ).toBe(sizes[2]);
    await channel.close();
  });

  it('cuts off a torn tail (a record cut short by a crash), reports segment and offset, and appends after it cleanly', async () => {
    const { dir, open } = await setup();
    let { channel } = await open();
    for (let b = 0; b < 3; b++) await channel.put(batch(b * 10, 10));
    await channel.close();
    const path = join(dir, segmentName(1));
    const full = (await stat(path)).size;
    const lastStart = full - encodeRecord(batch(20, 10), undefined).length;
    await truncate(path, lastStart + 25);

    const reopened = await open();
    channel = reopened.channel;
    expect(reopened.lines.find((l) => l.msg === 'torn channel segment tail cut off')).toMatchObject({
      segment: path,
      offset: lastStart,
      bytes: 25,
    });
    expect((await stat(path)).size).toBe(lastStart);
    await channel.put(batch(100, 5));
    expect(await drain(channel)).toEqual([...range(0, 20), ...range(100, 105)]);
    await channel.close();
  });

  it('recovers records after garbage appended to a segment and a damaged segment header', async () => {
    const { dir, open } = await setup();
    let { channel } = await open();
    await channel.put(batch(0, 10));
    await channel.close();
    const path = join(dir, segmentName(1));
    const bytes = await readFile(path);
    bytes[2] = 0x00;
    await writeFile(path, Buffer.concat([bytes, Buffer.from('garbage after a crash')]));
    const reopened = await open();
    channel = reopened.channel;
    expect(reopened.lines.find((l) => l.msg === 'damaged channel data skipped')).toMatchObject({
      segment: path,
      offset: 0,
      bytes: SEGMENT_HEADER_BYTES,
    });
    expect(reopened.lines.find((l) => l.msg === 'torn channel segment tail cut off')).toMatchObject({
      segment: path,
      offset: bytes.length,
      bytes: 21,
    });
    expect(await drain(channel)).toEqual(range(0, 10));
    await channel.close();
  });

  it('with both pointer copies damaged, delivers everything still on disk again rather than losing anything', async () => {
    const { dir, open } = await setup();
    let { channel } = await open();
    await channel.put(batch(0, 10));
    await channel.put(batch(10, 10));
    const tx = await channel.take(15);
    await tx.commit();
    await channel.close();
    for (const slot of POINTER_SLOTS) await writeFile(join(dir, slot), 'not a pointer');
    const reopened = await open();
    channel = reopened.channel;
    expect(
      reopened.lines.find(
        (l) => l.msg === 'channel pointer damaged; delivering every record still on disk again (duplicates possible, nothing lost)',
      ),
    ).toMatchObject({
      damaged: [
        { file: 'pointer.0', reason: 'no header line' },
        { file: 'pointer.1', reason: 'no header line' },
      ],
    });
    expect(await drain(channel)).toEqual(range(0, 20));
    await channel.close();
  });

  it('with the newest pointer copy torn, uses the other one: only the last commit is delivered again', async () => {
    const { dir, open } = await setup();
    let { channel } = await open();
    await channel.put(batch(0, 30));
    for (const n of [5, 7, 4]) await (await channel.take(n)).commit();
    await channel.close();
    const copies = await Promise.all(POINTER_SLOTS.map(async (f) => ({ f, buf: await readFile(join(dir, f)) })));
    const seqOf = (buf: Buffer) => JSON.parse(buf.toString('utf8', buf.indexOf(10) + 1, buf.lastIndexOf(10))).seq as number;
    const newest = copies.reduce((a, b) => (seqOf(a.buf) > seqOf(b.buf) ? a : b));
    // A write in place cut short by a crash: the end of the new copy never landed.
    await writeFile(join(dir, newest.f), Buffer.from(newest.buf).fill(0x20, newest.buf.length - 12, newest.buf.length - 1));
    const reopened = await open();
    channel = reopened.channel;
    expect(reopened.lines.find((l) => l.msg === 'channel pointer copy damaged; using the newest intact one')).toMatchObject({
      reason: 'checksum mismatch',
      using: copies.find((c) => c !== newest)!.f,
    });
    expect(await drain(channel)).toEqual(range(12, 30));
    await channel.close();
  });

  it('commits with one write to alternating pointer copies, sequence numbers rising, and nothing else in the directory', async () => {
    const { dir, open } = await setup();
    const { channel } = await open();
    await channel.put(batch(0, 10), { source: 's', seq: 1, state: { at: 10 } });
    const seqs: number[][] = [];
    for (let i = 0; i < 4; i++) {
      await (await channel.take(2)).commit();
      seqs.push(await Promise.all(POINTER_SLOTS.map(async (f) => decodeSlotSeq(await readFile(join(dir, f))))));
    }
    // One copy changes per commit, in turn; the other keeps the commit before.
    expect(seqs).toEqual([
      [1, 2],
      [3, 2],
      [3, 4],
      [5, 4],
    ]);
    expect((await readdir(dir)).sort()).toEqual(['000000000001.seg', 'LOCK', 'pointer.0', 'pointer.1']);
    await channel.close();
  });

  it('with commit_fsync a duration, writes commits over one copy and never over the synced one, then syncs the newest', async () => {
    const { dir, open } = await setup({ commitFsync: 1500 });
    const { channel } = await open('disk-commit-sync');
    const syncs = async () =>
      (await metrics.getSingleMetric('sluice_channel_pointer_syncs_total')!.get()).values.find(
        (v) => v.labels.component === 'disk-commit-sync',
      )?.value ?? 0;
    await channel.put(batch(0, 10));
    const slots = () => Promise.all(POINTER_SLOTS.map(async (f) => decodeSlotSeq(await readFile(join(dir, f)))));
    // Open wrote the first pointer (seq 1); the first commit finds no sync within the interval and syncs.
    await (await channel.take(2)).commit();
    expect(await slots()).toEqual([1, 2]);
    expect(await syncs()).toBe(1);
    // Within the interval: written, not synced, always into the copy the synced one is not.
    for (let i = 0; i < 3; i++) await (await channel.take(2)).commit();
    expect(await slots()).toEqual([5, 2]);
    expect(await syncs()).toBe(1);
    // The interval over, with no commit since: the newest is synced, and the next writes go to the other copy.
    await waitFor('the newest pointer synced', async () => (await syncs()) === 2, 10_000);
    await (await channel.take(1)).commit();
    expect(await slots()).toEqual([5, 6]);
    // Closing syncs the newest pointer (the channel's series go with it).
    const sync = vi.spyOn(PointerStore.prototype, 'sync');
    await channel.close();
    expect(sync).toHaveBeenCalledTimes(1);
    await expect(sync.mock.results[0]!.value).resolves.toBe(true);
    sync.mockRestore();
    // Reopened: exactly the committed events are gone.
    const again = await open();
    expect(await drain(again.channel)).toEqual([9]);
    await again.channel.close();
  });

  it('with commit_fsync a duration, a power failure before the sync delivers again, never loses: the synced copy wins', async () => {
    const { dir } = await tempDir('pointer-power');
    dirs.push(dir);
    const at = (offset: number) => ({ segment: 1, offset, skip: 0, checkpoints: {} });
    const first = await PointerStore.open(dir);
    await first.store.write(at(100)); // synced
    await first.store.write(at(200), false);
    await first.store.write(at(300), false);
    const slots = await Promise.all(POINTER_SLOTS.map((f) => readFile(join(dir, f))));
    expect(slots.map(decodeSlotSeq)).toEqual([1, 3]);
    await first.store.close();
    // A process crash keeps the written pages: the newest pointer is read.
    let reopened = await PointerStore.open(dir);
    expect(reopened.read).toMatchObject({ kind: 'ok', seq: 3, pointer: { offset: 300 } });
    await reopened.store.close();
    // A power failure may tear the copy written since the sync; the synced one was never written over.
    await writeFile(join(dir, POINTER_SLOTS[1]!), Buffer.from('{"torn'));
    reopened = await PointerStore.open(dir);
    expect(reopened.read).toMatchObject({ kind: 'ok', seq: 1, pointer: { offset: 100 } });
    await reopened.store.close();
  });

  it('after a pointer write that failed halfway, syncs the last whole pointer, never the torn one', async () => {
    const { dir } = await tempDir('pointer-torn');
    dirs.push(dir);
    const at = (offset: number) => ({ segment: 1, offset, skip: 0, checkpoints: { app: { source: 'app', seq: offset, state: {} } } });
    const { store } = await PointerStore.open(dir);
    await store.write(at(100)); // synced, slot 0
    await store.write(at(200), false); // slot 1
    const slots = async () => Promise.all(POINTER_SLOTS.map(async (f) => decodeSlotSeq(await readFile(join(dir, f)))));
    // The disk fills up in the middle of the next write: 10 bytes land, then ENOSPC.
    const handle = await fileHandlePrototype(dir);
    const original = handle.write as (this: unknown, buf: Buffer, off: number, len: number, pos: number) => Promise<unknown>;
    const write = vi.spyOn(handle, 'write').mockImplementationOnce(async function (this: unknown, buf: Buffer, off: number) {
      await original.call(this, buf, off, 10, off);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    await expect(store.write(at(300), false)).rejects.toThrow(/ENOSPC/);
    write.mockRestore();
    expect(await slots()).toEqual([1, -1]);
    // The sync writes the last whole pointer again before syncing it; the synced copy is untouched until then.
    expect(await store.sync()).toBe(true);
    expect(await slots()).toEqual([1, 2]);
    await store.write(at(300), false);
    expect(await slots()).toEqual([3, 2]);
    await store.close();
  });

  it('syncs the pointer in use at open: one written and never synced before a crash is made durable', async () => {
    const { dir } = await tempDir('pointer-open');
    dirs.push(dir);
    const first = await PointerStore.open(dir);
    await first.store.write({ segment: 1, offset: 100, skip: 0, checkpoints: {} });
    await first.store.write({ segment: 1, offset: 200, skip: 0, checkpoints: {} }, false);
    await first.store.close();
    const handle = await fileHandlePrototype(dir);
    const datasync = vi.spyOn(handle, 'datasync');
    const again = await PointerStore.open(dir);
    expect(again.read).toMatchObject({ kind: 'ok', seq: 2, pointer: { offset: 200 } });
    expect(datasync).toHaveBeenCalledTimes(1);
    datasync.mockRestore();
    // The next write goes to the other copy, the one that is not in use.
    await again.store.write({ segment: 1, offset: 300, skip: 0, checkpoints: {} }, false);
    expect(await Promise.all(POINTER_SLOTS.map(async (f) => decodeSlotSeq(await readFile(join(dir, f)))))).toEqual([3, 2]);
    await again.store.close();
  });

  it('refuses a segment written by a newer format instead of misreading it', async () => {
    const { dir, open } = await setup();
    await writeFile(join(dir, segmentName(3)), Buffer.from('SLUICE\x09\nwhatever'));
    await expect(open()).rejects.toThrow(/written by a newer Sluice \(channel format 9\)/);
  });
});

describe('disk channel upgrade from an older format', () => {
  // fixtures/vN: a channel directory written by format N with 2 of its events committed;
  // expected.json holds the events as they were put (see fixtures/README.md).
  const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

  for (const [version, total] of [
    [1, 13],
    [2, 15],
  ] as const) {
    it(`delivers the uncommitted events of format-${version} segments, keeps their checkpoints, and writes new records in the current format`, async () => {
      const fixture = join(fixtures, `v${version}`);
      const { dir, open } = await setup();
      for (const f of [segmentName(1), 'pointer.json']) await copyFile(join(fixture, f), join(dir, f));
      const expected = JSON.parse(await readFile(join(fixture, 'expected.json'), 'utf8')) as { committed: number; events: LogEvent[] };
      expect(expected.events).toHaveLength(total);
      expect(expected.committed).toBe(2);
      let { channel, lines } = await open();
      expect(lines.filter((l) => /damaged|torn/.test(String(l.msg)))).toEqual([]);
      expect(channel.stats().events).toBe(total - 2);
      // The single pointer file of formats 1 and 2 is retired once a pointer copy holds its position.
      expect((await readdir(dir)).sort()).toEqual([segmentName(1), 'LOCK', 'pointer.0', 'pointer.1']);
      expect(channel.lastCheckpoint('file:/var/log/app.log')).toEqual({
        source: 'file:/var/log/app.log',
        seq: 2,
        state: { offset: 1000, fileId: 'dev1-ino2' },
      });
      expect(channel.lastCheckpoint('quiet')).toEqual({ source: 'quiet', seq: 7, state: {} });

      await channel.put(batch(200, 3), { source: 'file:/var/log/app.log', seq: 3, state: { offset: 1300, fileId: 'dev1-ino2' } });
      expect((await readFile(join(dir, segmentName(1)))).subarray(0, SEGMENT_HEADER_BYTES).toString('latin1')).toBe(
        `SLUICE${String.fromCharCode(version)}\n`,
      );
      expect((await readFile(join(dir, segmentName(2)))).subarray(0, SEGMENT_HEADER_BYTES)).toEqual(SEGMENT_HEADER);
      const first = await channel.take(5);
      expect(first.events).toEqual(expected.events.slice(2, 7).map((e) => asDelivered(e, version)));
      await first.commit();
      await channel.close();

      ({ channel } = await open());
      const rest = await channel.take(100);
      expect(rest.events).toEqual([...expected.events.slice(7).map((e) => asDelivered(e, version)), ...batch(200, 3)]);
      await rest.commit();
      expect((await readdir(dir)).filter((f) => f.endsWith('.seg'))).toEqual([]);
      await channel.close();
      ({ channel } = await open());
      expect(channel.stats().events).toBe(0);
      expect(channel.lastCheckpoint('file:/var/log/app.log')?.seq).toBe(3);
      expect(channel.lastCheckpoint('quiet')?.seq).toBe(7);
      await channel.close();
    });
  }
});

describe('disk channel durability of positions', () => {
  it('keeps the newest checkpoint of each source after its segments are committed and deleted, across reopen', async () => {
    const { dir, open } = await setup({ segmentBytes: 4096 });
    let { channel } = await open();
    for (let i = 0; i < 20; i++)
      await channel.put(batch(i * 10, 10, 100), { source: i % 2 ? 'odd' : 'even', seq: i, state: { offset: i * 1000 } });
    await channel.put([], { source: 'quiet', seq: 1, state: { offset: 7 } });
    expect(await drain(channel)).toEqual(range(0, 200));
    await channel.close();
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(1);
    ({ channel } = await open());
    expect(channel.lastCheckpoint('even')).toEqual({ source: 'even', seq: 18, state: { offset: 18000 } });
    expect(channel.lastCheckpoint('odd')).toEqual({ source: 'odd', seq: 19, state: { offset: 19000 } });
    expect(channel.lastCheckpoint('quiet')).toEqual({ source: 'quiet', seq: 1, state: { offset: 7 } });
    expect(channel.lastCheckpoint('nobody')).toBeUndefined();
    await channel.close();
  });

  it('redelivers a partly committed batch from the first uncommitted event after reopen', async () => {
    const { open } = await setup({ readCacheBytes: 1 << 20 });
    let { channel } = await open();
    await channel.put(batch(0, 10));
    const first = await channel.take(4);
    await first.commit();
    const second = await channel.take(3);
    expect(second.events.map(eventNumber)).toEqual([4, 5, 6]);
    await channel.close();
    ({ channel } = await open());
    expect(channel.stats().events).toBe(6);
    expect(await drain(channel)).toEqual(range(4, 10));
    await channel.close();
  });
});

describe('disk channel capacity', () => {
  it('makes puts wait when max_bytes is reached, says so, and resumes in order as the taker commits', async () => {
    const record = encodeRecord(batch(0, 10, 200), undefined).length;
    const { open } = await setup({ maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const { channel, lines } = await open('disk-cap');
    const puts: Promise<void>[] = [];
    const done: boolean[] = [];
    const n = Math.ceil((3 * 64 * 1024) / record);
    for (let b = 0; b < n; b++) puts.push(channel.put(batch(b * 10, 10, 200)).then(() => void (done[b] = true)));
    await waitFor('the channel to be full', () => channel.stats().full);
    expect(lines.find((l) => l.msg === 'channel full; puts wait and sources pause')).toMatchObject({ max_bytes: 64 * 1024 });
    const fullGauge = (await metrics.getSingleMetric('sluice_channel_full')!.get()).values.find((v) => v.labels.component === 'disk-cap');
    expect(fullGauge?.value).toBe(1);
    expect(channel.stats().diskBytes).toBeLessThanOrEqual(64 * 1024);
    expect(done.filter(Boolean).length).toBeLessThan(n);
    const taken: number[] = [];
    while (taken.length < n * 10) {
      const tx = await channel.take(37);
      taken.push(...tx.events.map(eventNumber));
      expect(channel.stats().diskBytes).toBeLessThanOrEqual(64 * 1024);
      await tx.commit();
    }
    await Promise.all(puts);
    expect(taken).toEqual(range(0, n * 10));
    expect(lines.some((l) => l.msg === 'channel has room again')).toBe(true);
    expect(channel.stats()).toMatchObject({ events: 0, full: false });
    await channel.close();
  });

  it("takes a waiting put back when its source's signal aborts: not stored, its checkpoint neither; the puts behind go on", async () => {
    const { open } = await setup({ maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const { channel } = await open('disk-withdraw');
    const stopped = new AbortController();
    await channel.put(batch(0, 10, 200), { source: 'app', seq: 1, state: {} }, stopped.signal);
    let b = 1;
    while (!channel.stats().full) {
      void channel.put(batch(b * 10, 10, 200), { source: 'app', seq: b + 1, state: {} }, stopped.signal).catch(() => undefined);
      b++;
      await new Promise((r) => setImmediate(r));
    }
    const before = channel.lastCheckpoint('app')!.seq;
    const waiting = channel.put(batch(10_000, 10, 200), { source: 'app', seq: 10_000, state: {} }, stopped.signal);
    stopped.abort();
    await expect(waiting).rejects.toBeInstanceOf(PutAbortedError);
    // Room again: another source's put is stored; the withdrawn batch never is.
    const other = channel.put(batch(20_000, 1, 200), { source: 'other', seq: 1, state: {} });
    const taken: number[] = [];
    while (!taken.includes(20_000)) {
      const tx = await channel.take(1000);
      taken.push(...tx.events.map(eventNumber));
      await tx.commit();
    }
    await other;
    expect(taken.filter((n) => n >= 10_000 && n < 20_000)).toEqual([]);
    expect(channel.lastCheckpoint('app')!.seq).toBeLessThan(10_000);
    expect(channel.lastCheckpoint('app')!.seq).toBeGreaterThanOrEqual(before);
    await channel.close();
  });

  it('never deadlocks when one waiting batch needs the space of the committed active segment', async () => {
    const record = encodeRecord(batch(0, 100, 200), undefined).length;
    const { open } = await setup({ maxBytes: 2 * record + 1000, segmentBytes: record + 500 });
    const { channel } = await open();
    await channel.put(batch(0, 100, 200));
    const second = channel.put(batch(100, 100, 200));
    const third = channel.put(batch(200, 100, 200));
    await waitFor('the channel to be full', () => channel.stats().full);
    const ids: number[] = [];
    while (ids.length < 300) {
      const tx = await channel.take(1000);
      ids.push(...tx.events.map(eventNumber));
      await tx.commit();
    }
    await Promise.all([second, third]);
    expect(ids).toEqual(range(0, 300));
    await channel.close();
  });

  it('replaces a drained segment to make room without losing what is written after it, across restarts', async () => {
    const record = encodeRecord(batch(0, 400, 200), undefined).length;
    const { dir, open } = await setup({ maxBytes: Math.floor(1.5 * record), segmentBytes: record + 500 });
    let { channel } = await open();
    await channel.put(batch(0, 400, 200));
    await (await channel.take(400)).commit();
    // The committed active segment still takes room the next put needs: it is replaced.
    await channel.put(batch(400, 400, 200));
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg'))).toEqual([segmentName(2)]);
    await channel.close();
    ({ channel } = await open());
    expect(await drain(channel)).toEqual(range(400, 800));
    await channel.close();
  });

  it('never reuses the id of a segment the pointer names once that segment is gone (a crash after replacing it)', async () => {
    const { dir, open } = await setup();
    let { channel } = await open();
    await channel.put(batch(0, 10));
    await (await channel.take(10)).commit();
    await channel.close();
    // The pointer stays at the end of segment 1; the segment is deleted and nothing written yet.
    await rm(join(dir, segmentName(1)));
    ({ channel } = await open());
    await channel.put(batch(10, 10));
    await channel.close();
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg'))).toEqual([segmentName(2)]);
    ({ channel } = await open());
    expect(await drain(channel)).toEqual(range(10, 20));
    await channel.close();
  });

  it('rejects a batch larger than the whole capacity with a clear error instead of hanging', async () => {
    const { open } = await setup({ maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const { channel } = await open();
    await expect(channel.put(batch(0, 500, 200))).rejects.toThrow(/more than the channel's whole capacity \(max_bytes 65536\)/);
    await channel.close();
  });
});

describe('disk channel contract details', () => {
  it('keeps several transactions open for one taker, commits them only in order, and refuses to finish one twice', async () => {
    const { open } = await setup();
    const { channel } = await open();
    await channel.put(batch(0, 10));
    const first = await channel.take(2);
    const second = await channel.take(3);
    const third = await channel.take(2);
    expect([first, second, third].map((t) => t.events.map(eventNumber))).toEqual([
      [0, 1],
      [2, 3, 4],
      [5, 6],
    ]);
    await expect(second.commit()).rejects.toThrow(/commit in the order they were taken; 1 older one\(s\) are not committed yet/);
    await first.commit();
    await expect(first.commit()).rejects.toThrow(/already committed or rolled back/);
    await expect(first.rollback()).rejects.toThrow(/already committed or rolled back/);
    // Rolling back the second gives back the third too, in order, before anything newer.
    await second.rollback();
    await expect(third.commit()).rejects.toThrow(/an earlier transaction was rolled back, and this one with it/);
    await third.rollback();
    await expect(second.commit()).rejects.toThrow(/already committed or rolled back/);
    expect(channel.stats().events).toBe(8);
    const again = await channel.take(100);
    expect(again.events.map(eventNumber)).toEqual(range(2, 10));
    await again.commit();
    expect(channel.stats().events).toBe(0);
    await channel.close();
  });

  it('refuses a second take while one waits, and a take before open or after close', async () => {
    const { open, config } = await setup();
    await expect(new DiskChannel({ ...config, path: `${config.path}-x` }, 'x', silentLogger()).take(1)).rejects.toThrow(/not open yet/);
    const { channel } = await open();
    const ac = new AbortController();
    const waiting = channel.take(5, ac.signal);
    await expect(channel.take(1)).rejects.toThrow(/a take is already waiting/);
    ac.abort();
    expect((await waiting).events).toEqual([]);
    await expect(channel.take(0)).rejects.toThrow(/take\(max\) needs a positive integer, got 0/);
    await channel.close();
    await expect(channel.take(1)).rejects.toThrow(/closed: take refused/);
  });

  it('after a restart, delivers again what open transactions held, from the oldest uncommitted one', async () => {
    const { open } = await setup({ readCacheBytes: 1 << 20 });
    let { channel } = await open();
    await channel.put(batch(0, 10));
    await (await channel.take(3)).commit();
    const open1 = await channel.take(3);
    await channel.take(3);
    await channel.close();
    await expect(open1.commit()).rejects.toThrow(/is closed: transaction not committed; its events are delivered again after reopening/);
    ({ channel } = await open());
    expect(await drain(channel)).toEqual(range(3, 10));
    await channel.close();
  });

  it('wakes a waiting take when data arrives and refuses a second open of the same directory', async () => {
    const { config, open } = await setup();
    const { channel } = await open();
    const waiting = channel.take(10);
    await channel.put(batch(0, 2));
    expect((await waiting).events.map(eventNumber)).toEqual([0, 1]);
    await expect(new DiskChannel(config, 'twin', silentLogger()).open()).rejects.toThrow(/already used by another channel in this process/);
    await channel.close();
  });
});

describe('disk channel options', () => {
  it('has safe defaults, takes sizes and durations with units, and rejects unsafe or unknown settings', async () => {
    expect(diskChannelOptions.parse({})).toEqual({
      max_bytes: 1024 ** 3,
      fsync: 'always',
      commit_fsync: 1000,
      read_cache_bytes: 0,
      retry_backoff_max: 5000,
    });
    const small = diskChannelOptions.parse({ max_bytes: '100MiB', fsync: '20ms', retry_backoff_max: '2s' });
    expect(small).toMatchObject({ fsync: 20, retry_backoff_max: 2000 });
    const logger = silentLogger();
    await diskChannelSpec.load?.();
    const ch = diskChannelSpec.create(small, { name: 'c', logger, dataDir: '/tmp/x', host: 'h' });
    expect(ch).toBeInstanceOf(DiskChannel);
    expect(() => diskChannelOptions.parse({ max_bytes: '1GB', segment_bytes: '600MB' })).toThrow(/at most half of max_bytes/);
    expect(() => diskChannelOptions.parse({ max_byte: 5 })).toThrow(/max_byte/);
    expect(() => diskChannelOptions.parse({ max_bytes: 'lots' })).toThrow(/expected a size such as .+512KiB/);
    expect(() => diskChannelOptions.parse({ fsync: 'sometimes' })).toThrow();
    expect(() => diskChannelOptions.parse({ fsync: 20 })).toThrow(/a duration needs a unit: did you mean .+20s.+ or .+20ms/);
    expect(() => diskChannelOptions.parse({ fsync: 0 })).toThrow(/must be .+always.+ or a positive duration/);
    expect(() => diskChannelOptions.parse({ retry_backoff_max: 5000 })).toThrow(/a duration needs a unit/);
  });

  it('names the new key when a config still has the old _ms spelling, with file, line and column', () => {
    const registry = new Registry().register(diskChannelSpec);
    let problems: string[] = [];
    try {
      parseConfig(['channel:', '  type: disk', '  retry_backoff_max_ms: 5000', '  fsync: 20'].join('\n'), 'agent.yaml', registry, {});
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems.map(formatProblem);
    }
    expect(problems).toContainEqual(
      expect.stringMatching(/agent\.yaml:3:3.*unknown key "retry_backoff_max_ms" \(did you mean "retry_backoff_max"\?\)/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/agent\.yaml:4:\d+.*did you mean "20s" or "20ms"/));
  });

  it('reads sizes the way every component does (core/units.ts), whole and above each minimum', () => {
    const maxBytes = (v: unknown) => diskChannelOptions.parse({ max_bytes: v }).max_bytes;
    expect(() => maxBytes(1048576)).toThrow(/a size needs a unit: did you mean .+1048576B/);
    expect(() => maxBytes('1048576')).toThrow(/a size needs a unit/);
    expect(maxBytes('1048576B')).toBe(1048576);
    expect(maxBytes('64KiB')).toBe(65536);
    expect(maxBytes('64 kib')).toBe(65536);
    expect(maxBytes('512MiB')).toBe(512 * 1024 ** 2);
    expect(maxBytes('2Gi')).toBe(2 * 1024 ** 3);
    expect(maxBytes('1GB')).toBe(1e9);
    expect(maxBytes('1.5 MB')).toBe(1_500_000);
    expect(() => maxBytes('1000B')).toThrow(/must be at least 65536 bytes, got 1000/);
    expect(maxBytes('100.5KiB')).toBe(102912);
    expect(() => maxBytes(-1)).toThrow(/expected a size/);
    expect(() => maxBytes('64 parsecs')).toThrow(/expected a size/);
    expect(diskChannelOptions.parse({ read_cache_bytes: 0 }).read_cache_bytes).toBe(0);
    expect(() => diskChannelOptions.parse({ segment_bytes: '1KiB' })).toThrow(/must be at least 4096 bytes, got 1024/);
  });
});

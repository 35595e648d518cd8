import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceCheckpoint } from '../../../core/pipeline.js';
import { makeEvent } from '../testkit.js';
import { diskChannelsUnderTest } from './testing.js';
import { encodeRecord } from './format/record.js';
import { checkSegmentHeader, SEGMENT_HEADER_BYTES, segmentName } from './format/segment-file.js';

/** Checkpoint patches (SourceCheckpoint.patch) in the disk channel: what it keeps whole, across reopen and damage. */
const setup = diskChannelsUnderTest('disk-patch');

interface State {
  v: 2;
  files: Record<string, { pos: number; tail?: string }>;
  lost: { id: string }[];
}

/**
 * A source as the file source puts: whole first, then patches against the last put, each
 * changed entry whole with null for an optional member it lacks. `whole` is what the
 * channel must hold for it after each put.
 */
class Source {
  seq = 0;
  state: State = { v: 2, files: { '1:1': { pos: 0 }, '1:2': { pos: 0, tail: 'aaaaaaaa' } }, lost: [] };
  whole: SourceCheckpoint | undefined;

  constructor(readonly name: string) {}

  first(): SourceCheckpoint {
    this.whole = { source: this.name, seq: ++this.seq, state: structuredClone(this.state) };
    return this.whole;
  }

  /** Moves one file on (and sometimes adds, removes a file or changes `lost`): the patch of that. */
  next(step: number): SourceCheckpoint {
    const base = this.seq;
    const files: Record<string, unknown> = {};
    const patch: Record<string, unknown> = { files };
    const key = step % 2 === 0 ? '1:1' : '1:2';
    const entry = this.state.files[key];
    if (entry) {
      entry.pos += 7;
      if (step % 3 === 0) delete entry.tail;
      else entry.tail = (step % 16).toString(16).repeat(8);
      files[key] = { tail: null, ...entry };
    }
    if (step % 5 === 0) {
      this.state.files[`2:${step}`] = { pos: step };
      files[`2:${step}`] = { pos: step, tail: null };
    }
    if (step % 5 === 3 && `2:${step - 3}` in this.state.files) {
      delete this.state.files[`2:${step - 3}`];
      files[`2:${step - 3}`] = null;
    }
    if (step % 4 === 0) {
      this.state.lost = [{ id: `gone-${step}` }];
      patch.lost = this.state.lost;
    }
    this.whole = { source: this.name, seq: ++this.seq, state: structuredClone(this.state) };
    return { source: this.name, seq: this.seq, patch: true, base, state: structuredClone(patch) };
  }
}

const segmentVersions = async (dir: string) => {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
  return Promise.all(names.map(async (n) => (await readFile(join(dir, n)))[6]));
};

describe('disk channel with checkpoint patches', () => {
  it('holds whole checkpoints: as put, after reopen with nothing, part or all committed, and with committed segments deleted', async () => {
    const { dir, open } = await setup({ segmentBytes: 1500 });
    const a = new Source('a');
    const b = new Source('b');
    let { channel } = await open();
    const expectWhole = () => {
      for (const s of [a, b]) expect(channel.lastCheckpoint(s.name)).toStrictEqual(s.whole);
    };
    await channel.put([makeEvent(0)], a.first());
    await channel.put([], b.first());
    let id = 1;
    for (let step = 1; step <= 30; step++) {
      const s = step % 3 === 0 ? b : a;
      await channel.put([makeEvent(id++), makeEvent(id++), makeEvent(id++)], s.next(step));
      expectWhole();
    }
    const versions = await segmentVersions(dir);
    expect(versions.length).toBeGreaterThan(3);
    expect(versions.every((v) => v === 4)).toBe(true);

    await channel.close();
    ({ channel } = await open());
    expectWhole();

    // Part of a record committed: the pointer holds the checkpoint of the record it is in, which is replayed too.
    const first = await channel.take(20);
    await first.commit();
    await channel.close();
    ({ channel } = await open());
    expectWhole();

    for (let step = 31; step <= 40; step++) await channel.put([makeEvent(id++)], (step % 2 ? a : b).next(step));
    expectWhole();
    // Everything committed: the segments are gone and the pointer alone holds the checkpoints, whole.
    for (;;) {
      const tx = await channel.take(7, AbortSignal.abort());
      if (tx.events.length === 0) break;
      await tx.commit();
      expectWhole();
    }
    await channel.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.seg')).length).toBeLessThanOrEqual(1);
    const pointer = await readFile(join(dir, 'pointer.0'), 'utf8').catch(() => '');
    expect(pointer + (await readFile(join(dir, 'pointer.1'), 'utf8').catch(() => ''))).not.toContain('"patch"');
    ({ channel } = await open());
    expectWhole();
    await channel.close();
  });

  it('a damaged record in a chain leaves the source its older checkpoint until its next whole one, never a mixed state', async () => {
    const { dir, open } = await setup();
    const a = new Source('a');
    const b = new Source('b');
    let { channel } = await open();
    const puts: [number, SourceCheckpoint][] = [
      [1, a.first()],
      [1, b.first()],
      [2, a.next(1)],
    ];
    const held = { source: 'a', seq: 2, state: structuredClone(a.state) };
    puts.push(
      [2, a.next(2)], // damaged below
      [2, a.next(3)],
      [1, b.next(4)],
    );
    for (const [n, cp] of puts)
      await channel.put(
        Array.from({ length: n }, (_, i) => makeEvent(i)),
        cp,
      );
    await channel.close();
    const sizes = puts.map(
      ([n, cp]) =>
        encodeRecord(
          Array.from({ length: n }, (_, i) => makeEvent(i)),
          cp,
        ).length,
    );
    const fourth = SEGMENT_HEADER_BYTES + sizes[0]! + sizes[1]! + sizes[2]!;
    const path = join(dir, segmentName(1));
    const bytes = await readFile(path);
    bytes[fourth + 30] = bytes[fourth + 30]! ^ 0x01;
    await writeFile(path, bytes);

    const reopened = await open();
    channel = reopened.channel;
    expect(reopened.lines.filter((l) => l.msg === 'damaged channel data skipped')).toHaveLength(1);
    // Seq 4, merged into seq 2, would have kept 1:1 where the damaged seq 3 had moved it:
    // seq 2 stays, older (lines from there come again), rather than none (a first run).
    expect(channel.lastCheckpoint('a')).toStrictEqual(held);
    expect(channel.lastCheckpoint('b')).toStrictEqual(b.whole);
    const broken = reopened.lines.filter((l) => String(l.msg).startsWith('checkpoint patch without the checkpoint it applies to'));
    expect(broken).toMatchObject([{ level: 40, source: 'a', chain: 'replay', seq: 4, base: 3, held_seq: 2 }]);

    // Still broken for the patches that follow (said once), mended by the next whole checkpoint.
    await channel.put([makeEvent(9)], a.next(5));
    expect(channel.lastCheckpoint('a')).toStrictEqual(held);
    const whole = a.first();
    await channel.put([makeEvent(10)], whole);
    await channel.put([makeEvent(11)], a.next(6));
    expect(channel.lastCheckpoint('a')).toStrictEqual(a.whole);
    // Said once per chain: at the replay, and by the chain of puts the replay's result went on with.
    expect(reopened.lines.filter((l) => String(l.msg).startsWith('checkpoint patch without')).map((l) => l.chain)).toEqual([
      'replay',
      'put',
    ]);
    await channel.close();
    ({ channel } = await open());
    expect(channel.lastCheckpoint('a')).toStrictEqual(a.whole);
    await channel.close();
  });

  it('is refused by a Sluice knowing formats up to 3, which would take a patch for a whole state', async () => {
    const patched = await setup();
    const { channel } = await patched.open();
    const a = new Source('a');
    await channel.put([makeEvent(1)], a.first());
    await channel.put([makeEvent(2)], a.next(1));
    await channel.close();
    expect(await segmentVersions(patched.dir)).toEqual([4]);
    expect(checkSegmentHeader(await readFile(join(patched.dir, segmentName(1))), [1, 2, 3], 3)).toEqual({ newerVersion: 4 });
  });
});

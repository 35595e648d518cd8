import { mkdirSync, readdirSync, rmdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '../../test/support/index.js';
import { hashId, ID_WORDS } from './id-window.js';
import { WriteJournal } from './journal.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir('journal');
});
afterEach(() => tmp.cleanup());

function keysOf(ids: string[]): Uint32Array {
  const keys = new Uint32Array(ids.length * ID_WORDS);
  for (const [i, id] of ids.entries()) hashId(id, keys, i * ID_WORDS);
  return keys;
}

/** Claims every key, as a sink does before it writes; true when all were new. */
function claimAll(j: WriteJournal, keys: Uint32Array): boolean {
  let all = true;
  for (let at = 0; at < keys.length; at += ID_WORDS) all = j.claim(keys, at) && all;
  return all;
}

describe('write journal', () => {
  it('keeps every record of commits made at the same time (one file created per path of a batch)', async () => {
    const j = await WriteJournal.open(tmp.dir, 1000);
    await Promise.all([1, 2, 3, 4, 5, 6].map((i) => j.commit([{ path: `/t/.f${i}.inprogress`, length: 0 }], new Uint32Array(0))));
    const keys = keysOf(['e1', 'e2']);
    claimAll(j, keys);
    await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => j.commit([{ path: `/t/.f${i}.inprogress`, length: 100 * i }], i === 1 ? keys : new Uint32Array(0))),
    );
    await j.close();
    const again = await WriteJournal.open(tmp.dir, 1000);
    expect(new Map(again.lengths)).toEqual(new Map([1, 2, 3, 4, 5, 6].map((i) => [`/t/.f${i}.inprogress`, 100 * i])));
    expect(claimAll(again, keys)).toBe(false);
    await again.close();
  });

  it('remembers forgotten files as forgotten after a restart', async () => {
    const j = await WriteJournal.open(tmp.dir, 1000);
    await j.commit(
      [
        { path: 'a', length: 10 },
        { path: 'b', length: 20 },
      ],
      new Uint32Array(0),
    );
    j.forget('a');
    await j.commit([{ path: 'b', length: 30 }], new Uint32Array(0));
    await j.close();
    const again = await WriteJournal.open(tmp.dir, 1000);
    expect([...again.lengths]).toEqual([['b', 30]]);
    await again.close();
  });

  it("keeps each file's tail across restarts and segment rotations", async () => {
    const j = await WriteJournal.open(tmp.dir, 4);
    const tail = Buffer.from('the last bytes\n');
    await j.commit([{ path: 'a', length: 100, tail }], new Uint32Array(0));
    // Two ids fill a generation of a window of 4: the next commits start new segments, each with a checkpoint.
    for (const [i, batch] of [
      ['x1', 'x2'],
      ['y1', 'y2'],
      ['z1', 'z2'],
    ].entries()) {
      const keys = keysOf(batch);
      claimAll(j, keys);
      await j.commit([{ path: `f${i}`, length: i }], keys);
    }
    await j.close();
    expect(readdirSync(tmp.dir).length).toBe(2);
    const again = await WriteJournal.open(tmp.dir, 4);
    expect(again.tail('a')).toEqual(tail);
    expect(again.lengths.get('a')).toBe(100);
    expect(claimAll(again, keysOf(['z1', 'z2']))).toBe(false);
    expect(claimAll(again, keysOf(['x1']))).toBe(true); // forgotten with its segment
    await again.close();
  });

  it('ignores a record torn by a crash, and goes on after it', async () => {
    const j = await WriteJournal.open(tmp.dir, 1000);
    const first = keysOf(['a']);
    const second = keysOf(['b']);
    claimAll(j, first);
    await j.commit([{ path: 'f', length: 10 }], first);
    claimAll(j, second);
    await j.commit([{ path: 'f', length: 20 }], second);
    await j.close();
    const seg = join(tmp.dir, readdirSync(tmp.dir)[0]!);
    truncateSync(seg, statSync(seg).size - 3);
    const again = await WriteJournal.open(tmp.dir, 1000);
    expect(again.lengths.get('f')).toBe(10);
    expect(claimAll(again, first)).toBe(false);
    expect(claimAll(again, second)).toBe(true);
    await again.commit([{ path: 'f', length: 20 }], second);
    await again.close();
    const third = await WriteJournal.open(tmp.dir, 1000);
    expect(third.lengths.get('f')).toBe(20);
    expect(readFileSync(seg).length).toBeGreaterThan(0);
    await third.close();
  });

  it('lets released ids be written again', async () => {
    const j = await WriteJournal.open(tmp.dir, 1000);
    const keys = keysOf(['a', 'b']);
    expect(claimAll(j, keys)).toBe(true);
    j.release(keys);
    expect(claimAll(j, keys)).toBe(true);
    await j.close();
  });
});

describe('write journal segments a rotation left without their checkpoint', () => {
  const segmentName = (n: number) => `journal-${String(n).padStart(9, '0')}`;
  const newestSegment = () => Math.max(...readdirSync(tmp.dir).map((name) => Number(name.slice('journal-'.length))));

  it('keeps every length when the newest segments are empty (rotations that failed, or were cut by crashes)', async () => {
    const j = await WriteJournal.open(tmp.dir, 1000);
    await j.commit(
      [
        { path: 'a', length: 10 },
        { path: 'b', length: 20 },
      ],
      keysOf(['e1']),
    );
    await j.close();
    const n = newestSegment();
    writeFileSync(join(tmp.dir, segmentName(n + 1)), '');
    writeFileSync(join(tmp.dir, segmentName(n + 2)), '');
    const again = await WriteJournal.open(tmp.dir, 1000);
    expect([...again.lengths]).toEqual([
      ['a', 10],
      ['b', 20],
    ]);
    expect(claimAll(again, keysOf(['e1']))).toBe(false);
    await again.commit([{ path: 'c', length: 5 }], new Uint32Array(0));
    await again.close();
    // Written on in a new segment that starts with the checkpoint, so the next start has it all too.
    const third = await WriteJournal.open(tmp.dir, 1000);
    expect(new Map(third.lengths)).toEqual(
      new Map([
        ['a', 10],
        ['b', 20],
        ['c', 5],
      ]),
    );
    await third.close();
  });

  it('starts the segment again on the next commit after a rotation failed, losing no length', async () => {
    const j = await WriteJournal.open(tmp.dir, 4);
    await j.commit([{ path: 'a', length: 10 }], new Uint32Array(0));
    // The next segment cannot be created (a directory is in its way, as a failing disk would be).
    const inTheWay = join(tmp.dir, segmentName(newestSegment() + 1));
    mkdirSync(inTheWay);
    // Two ids fill a generation of a window of 4: their commit starts a new segment first.
    const keys = keysOf(['x1', 'x2']);
    claimAll(j, keys);
    await expect(j.commit([{ path: 'a', length: 20 }], keys)).rejects.toThrow(/EEXIST|EISDIR/);
    // The sink's retry of the batch.
    await j.commit([{ path: 'a', length: 20 }], keys);
    await j.close();
    rmdirSync(inTheWay);
    const again = await WriteJournal.open(tmp.dir, 4);
    expect([...again.lengths]).toEqual([['a', 20]]);
    await again.close();
  });

  it('keeps the older generation of ids on disk when a segment is started again after a failed write', async () => {
    const j = await WriteJournal.open(tmp.dir, 6);
    // A window of 6: generations of 3 ids. x1, x2 go into the first segment.
    const x = keysOf(['x1', 'x2']);
    claimAll(j, x);
    await j.commit([{ path: 'f', length: 10 }], x);
    // y fills the generation: its commit starts a new segment (its checkpoint is written),
    // then its own record fails (a full disk): that segment is broken.
    const first = Reflect.get(j, 'handle') as object;
    const proto = Object.getPrototypeOf(first) as { writev: (...args: unknown[]) => Promise<unknown> };
    const writev = proto.writev;
    let writes = 0;
    proto.writev = function (this: object, ...args: unknown[]) {
      if (this !== first && ++writes === 2) return Promise.reject(new Error('ENOSPC: no space left on device'));
      return writev.apply(this, args);
    };
    const y = keysOf(['y1']);
    claimAll(j, y);
    try {
      await expect(j.commit([{ path: 'f', length: 20 }], y)).rejects.toThrow(/ENOSPC/);
    } finally {
      proto.writev = writev;
    }
    // The retry starts another segment, in the same generation.
    await j.commit([{ path: 'f', length: 20 }], y);
    await j.close();
    // After a restart the window still holds the older generation: x1, x2 among it.
    const again = await WriteJournal.open(tmp.dir, 6);
    for (const id of ['x1', 'x2', 'y1']) expect(again.has(keysOf([id]), 0), id).toBe(true);
    expect([...again.lengths]).toEqual([['f', 20]]);
    await again.close();
  });
});

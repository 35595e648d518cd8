import { describe, expect, it } from 'vitest';
import { UncommittedWrites } from './uncommitted.js';

/** The one range remembered of t/0. */
const only = (u: UncommittedWrites) => {
  const ranges = u.get('t', 0)!.ranges;
  expect(ranges).toHaveLength(1);
  return ranges[0]!;
};

const offsets = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));
const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `id-${from + i}`);

describe('UncommittedWrites', () => {
  it('knows the records of a batch whose commit failed, by offset and event id', () => {
    const u = new UncommittedWrites();
    expect(u.get('t', 0)).toBeUndefined();
    u.remember('t', 0, offsets(100, 3), ids(100, 3));
    const r = u.get('t', 0)!;
    expect([only(u).from, only(u).end]).toEqual([100n, 103n]);
    expect([99, 100, 101, 102, 103].map((o) => r.has(BigInt(o), `id-${o}`))).toEqual([false, true, true, true, false]);
    // Same offset, another event: the log changed (topic recreated, offsets reset); not ours.
    expect(r.has(101n, 'other')).toBe(false);
    expect(u.get('t', 1)).toBeUndefined();
    expect(u.get('u', 0)).toBeUndefined();
  });

  it('joins contiguous batches and forgets what a later commit covers', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, offsets(0, 5), ids(0, 5));
    u.remember('t', 0, offsets(5, 5), ids(5, 5));
    expect(only(u).ids).toEqual(ids(0, 10));
    u.committed('t', 0, 3n);
    expect(only(u).from).toBe(3n);
    expect(u.get('t', 0)!.has(2n, 'id-2')).toBe(false);
    expect(u.get('t', 0)!.has(3n, 'id-3')).toBe(true);
    u.committed('t', 0, 10n);
    expect(u.get('t', 0)).toBeUndefined();
  });

  it('joins a batch remembered after the batches that follow it (a commit answered late)', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, offsets(5, 5), ids(5, 5));
    u.remember('t', 0, offsets(0, 5), ids(0, 5));
    expect(only(u).from).toBe(0n);
    expect(only(u).ids).toEqual(ids(0, 10));
    // Overlapping both ends of what is remembered: nothing of either is lost.
    u.remember('t', 0, offsets(8, 4), ids(8, 4));
    expect(only(u).ids).toEqual(ids(0, 12));
  });

  it('keeps a batch apart from ranges it does not touch, whichever order their commits failed in', () => {
    const u = new UncommittedWrites();
    // The broker-kill case: the last batch's commit failed first, the earlier ones' later.
    u.remember('t', 0, offsets(3977, 23), ids(3977, 23));
    u.remember('t', 0, offsets(0, 220), ids(0, 220));
    u.remember('t', 0, offsets(50, 2), ids(50, 2));
    expect(u.get('t', 0)!.ranges.map((r) => [r.from, r.end])).toEqual([
      [0n, 220n],
      [3977n, 4000n],
    ]);
    // A batch between them joins both.
    u.remember('t', 0, offsets(220, 3757), ids(220, 3757));
    expect(only(u).ids).toEqual(ids(0, 4000));
    const w = u.get('t', 0)!;
    expect([0, 3976, 3977, 3999, 4000].map((o) => w.has(BigInt(o), `id-${o}`))).toEqual([true, true, true, true, false]);
  });

  it('forgets what a commit covers across several ranges', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, offsets(0, 5), ids(0, 5));
    u.remember('t', 0, offsets(10, 5), ids(10, 5));
    u.committed('t', 0, 12n);
    expect(only(u).from).toBe(12n);
    expect(u.get('t', 0)!.has(11n, 'id-11')).toBe(false);
    expect(u.get('t', 0)!.has(12n, 'id-12')).toBe(true);
  });

  it('keeps offset gaps and undecodable records as not written', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, ['10', '12', '13'], ['a', null, 'c']);
    const r = only(u);
    expect(r.ids).toEqual(['a', null, null, 'c']);
    expect(r.has(10n, 'a')).toBe(true);
    expect(r.has(13n, 'c')).toBe(true);
  });

  it('forgets partitions the group gave to another member', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, offsets(0, 2), ids(0, 2));
    u.remember('t', 1, offsets(0, 2), ids(0, 2));
    u.remember('u', 0, offsets(0, 2), ids(0, 2));
    u.retain({ t: [1, 2] });
    expect([u.get('t', 0), u.get('u', 0)]).toEqual([undefined, undefined]);
    expect(u.get('t', 1)!.ranges[0]!.ids).toEqual(ids(0, 2));
  });

  it('remembers at most maxPerPartition records, forgetting the lowest offsets first', () => {
    const u = new UncommittedWrites(4);
    u.remember('t', 0, offsets(0, 3), ids(0, 3));
    u.remember('t', 0, offsets(3, 3), ids(3, 3));
    expect([only(u).from, only(u).end]).toEqual([2n, 6n]);
    expect(only(u).ids).toEqual(ids(2, 4));
    u.remember('t', 0, offsets(10, 3), ids(10, 3));
    expect(u.get('t', 0)!.ranges.map((r) => [r.from, r.end])).toEqual([
      [5n, 6n],
      [10n, 13n],
    ]);
  });
});

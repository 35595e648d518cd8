import { describe, expect, it } from 'vitest';
import { UncommittedWrites } from './uncommitted.js';

const offsets = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));
const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `id-${from + i}`);

describe('UncommittedWrites', () => {
  it('knows the records of a batch whose commit failed, by offset and event id', () => {
    const u = new UncommittedWrites();
    expect(u.get('t', 0)).toBeUndefined();
    u.remember('t', 0, offsets(100, 3), ids(100, 3));
    const r = u.get('t', 0)!;
    expect([r.from, r.end]).toEqual([100n, 103n]);
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
    expect(u.get('t', 0)!.ids).toEqual(ids(0, 10));
    u.committed('t', 0, 3n);
    expect(u.get('t', 0)!.from).toBe(3n);
    expect(u.get('t', 0)!.has(2n, 'id-2')).toBe(false);
    expect(u.get('t', 0)!.has(3n, 'id-3')).toBe(true);
    u.committed('t', 0, 10n);
    expect(u.get('t', 0)).toBeUndefined();
  });

  it('joins a batch remembered after the batches that follow it (a commit answered late)', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, offsets(5, 5), ids(5, 5));
    u.remember('t', 0, offsets(0, 5), ids(0, 5));
    expect(u.get('t', 0)!.from).toBe(0n);
    expect(u.get('t', 0)!.ids).toEqual(ids(0, 10));
    // Overlapping both ends of what is remembered: nothing of either is lost.
    u.remember('t', 0, offsets(8, 4), ids(8, 4));
    expect(u.get('t', 0)!.ids).toEqual(ids(0, 12));
  });

  it('replaces a range that a new batch does not continue', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, offsets(0, 5), ids(0, 5));
    u.remember('t', 0, offsets(50, 2), ids(50, 2));
    const r = u.get('t', 0)!;
    expect([r.from, r.end]).toEqual([50n, 52n]);
  });

  it('keeps offset gaps and undecodable records as not written', () => {
    const u = new UncommittedWrites();
    u.remember('t', 0, ['10', '12', '13'], ['a', null, 'c']);
    const r = u.get('t', 0)!;
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
    expect(u.get('t', 1)!.ids).toEqual(ids(0, 2));
  });

  it('remembers at most the newest maxPerPartition records', () => {
    const u = new UncommittedWrites(4);
    u.remember('t', 0, offsets(0, 3), ids(0, 3));
    u.remember('t', 0, offsets(3, 3), ids(3, 3));
    const r = u.get('t', 0)!;
    expect([r.from, r.end]).toEqual([2n, 6n]);
    expect(r.ids).toEqual(ids(2, 4));
  });
});

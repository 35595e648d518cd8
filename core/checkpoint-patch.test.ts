import { describe, expect, test } from 'vitest';
import { applyCheckpoint, applyCheckpointInPlace, mergePatch } from './checkpoint-patch.js';
import type { SourceCheckpoint } from './pipeline.js';

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

describe('mergePatch', () => {
  // RFC 7386, Appendix A.
  test.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j patched with %j is %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toStrictEqual(result);
  });

  test('a member named __proto__ stays a member', () => {
    const out = mergePatch(JSON.parse('{"a":1}'), JSON.parse('{"__proto__":{"x":1}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"a":1,"__proto__":{"x":1}}');
  });
});

describe('applyCheckpoint', () => {
  const whole: SourceCheckpoint = deepFreeze({
    source: 's',
    seq: 4,
    state: { v: 2, files: { '1:1': { pos: 10, tail: 'aaaaaaaa' }, '1:2': { pos: 20 }, '1:3': { pos: 30 } }, lost: [{ id: 'x' }] },
  });

  test('a whole checkpoint is taken as it is, whatever came before', () => {
    const next: SourceCheckpoint = { source: 's', seq: 9, state: { v: 2, files: {}, lost: [] } };
    expect(applyCheckpoint(whole, next)).toBe(next);
    expect(applyCheckpoint(undefined, next)).toBe(next);
  });

  test('a patch is merged into the previous state, with its seq and without patch/base; the previous one is left as it was', () => {
    const before = structuredClone(whole);
    const patch: SourceCheckpoint = {
      source: 's',
      seq: 5,
      patch: true,
      base: 4,
      state: { files: { '1:1': { pos: 11, tail: null }, '1:2': null, '1:4': { pos: 0, tail: null } } },
    };
    const out = applyCheckpoint(whole, patch)!;
    expect(out).toStrictEqual({
      source: 's',
      seq: 5,
      state: { v: 2, files: { '1:1': { pos: 11 }, '1:3': { pos: 30 }, '1:4': { pos: 0 } }, lost: [{ id: 'x' }] },
    });
    // Frozen, so a write would have thrown; and nothing changed.
    expect(whole).toStrictEqual(before);
    // What the patch did not touch is shared, not copied.
    const state = out.state as { files: Record<string, unknown>; lost: unknown };
    const prevState = whole.state as { files: Record<string, unknown>; lost: unknown };
    expect(state.lost).toBe(prevState.lost);
    expect(state.files['1:3']).toBe(prevState.files['1:3']);
  });

  test('a chain of patches ends in the state a whole checkpoint would have carried', () => {
    let cp: SourceCheckpoint | undefined = whole;
    cp = applyCheckpoint(cp, { source: 's', seq: 6, patch: true, base: 4, state: { lost: [] } });
    cp = applyCheckpoint(cp, { source: 's', seq: 7, patch: true, base: 6, state: { files: { '1:3': { pos: 31 } } } });
    expect(cp).toStrictEqual({
      source: 's',
      seq: 7,
      state: { v: 2, files: { '1:1': { pos: 10, tail: 'aaaaaaaa' }, '1:2': { pos: 20 }, '1:3': { pos: 31 } }, lost: [] },
    });
  });

  test('a patch without the checkpoint it applies to breaks the chain', () => {
    const patch: SourceCheckpoint = { source: 's', seq: 8, patch: true, base: 7, state: { lost: [] } };
    expect(applyCheckpoint(undefined, patch)).toBeUndefined();
    // Seq 7 (or its record) is missing: merged into 4 it would mix positions of different times.
    expect(applyCheckpoint(whole, patch)).toBeUndefined();
    expect(applyCheckpoint(whole, { ...patch, base: undefined })).toBeUndefined();
  });

  test('a patch applies only to a checkpoint of its own run: seqs counted again after a restart never match', () => {
    const ran = { ...whole, run: 'r1' };
    expect(applyCheckpoint(ran, { source: 's', seq: 5, run: 'r2', patch: true, base: 4, state: { lost: [] } })).toBeUndefined();
    expect(applyCheckpoint(ran, { source: 's', seq: 4, run: 'r2', patch: true, base: 3, state: { lost: [] } })).toBeUndefined();
    expect(applyCheckpoint(ran, { source: 's', seq: 5, run: 'r1', patch: true, base: 4, state: { lost: [] } })).toMatchObject({
      seq: 5,
      run: 'r1',
    });
  });

  test('merged in place, the same checkpoint as merged by copying', () => {
    const next: SourceCheckpoint = { source: 's', seq: 5, patch: true, base: 4, state: { files: { '1:2': null, '1:3': { pos: 3 } } } };
    const copied = applyCheckpoint(whole, next);
    const own = structuredClone(whole);
    const inPlace = applyCheckpointInPlace(own, next);
    expect(inPlace).toStrictEqual(copied);
    expect(inPlace!.state).toBe(own.state);
  });

  test('the patch that made the previous checkpoint, seen again, changes nothing', () => {
    const merged = applyCheckpoint(whole, { source: 's', seq: 5, patch: true, base: 4, state: { lost: [] } })!;
    expect(applyCheckpoint(merged, { source: 's', seq: 5, patch: true, base: 4, state: { lost: [] } })).toBe(merged);
  });
});

import { describe, expect, test } from 'vitest';
import type { SourceCheckpoint } from '../../core/pipeline.js';
import { captureLogger } from '../../test/support/index.js';
import { CheckpointChains } from './checkpoints.js';

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const whole: SourceCheckpoint = { source: 's', seq: 1, run: 'r1', state: { files: { a: { pos: 1 }, b: { pos: 2 } }, lost: [] } };
const patch = (seq: number, base: number, files: Record<string, unknown>, run = 'r1'): SourceCheckpoint => ({
  source: 's',
  seq,
  run,
  patch: true,
  base,
  state: { files },
});

describe('CheckpointChains', () => {
  test("recovery's replay merges in place into a copy of its own, never into the pointer's state", () => {
    const chains = new CheckpointChains(captureLogger().logger);
    const pointer = deepFreeze(structuredClone(whole));
    const into = new Map([['s', pointer]]);
    const owned = new Set<string>();
    chains.replay(into, patch(2, 1, { a: { pos: 10 } }), owned);
    const afterFirst = into.get('s')!;
    chains.replay(into, patch(3, 2, { b: null, c: { pos: 3 } }), owned);
    expect(into.get('s')).toStrictEqual({ source: 's', seq: 3, run: 'r1', state: { files: { a: { pos: 10 }, c: { pos: 3 } }, lost: [] } });
    expect(pointer).toStrictEqual(whole);
    // The second patch went into the state the first made: no copy per record.
    expect(into.get('s')!.state).toBe(afterFirst.state);
  });

  test('a patch of another run, or of a checkpoint not held, leaves the one held and is said once per chain until a whole one', () => {
    const { logger, lines } = captureLogger();
    const chains = new CheckpointChains(logger);
    const put = new Map([['s', whole]]);
    chains.apply('put', put, patch(2, 1, { a: { pos: 5 } }, 'r2'));
    chains.apply('put', put, patch(3, 2, { a: { pos: 6 } }, 'r2'));
    expect(put.get('s')).toBe(whole);
    const committed = new Map([['s', whole]]);
    chains.apply('committed', committed, patch(4, 3, { a: { pos: 7 } }));
    expect(committed.get('s')).toBe(whole);
    const said = () => lines.filter((l) => String(l.msg).startsWith('checkpoint patch without')).map((l) => [l.chain, l.seq]);
    expect(said()).toEqual([
      ['put', 2],
      ['committed', 4],
    ]);
    // Mended by a whole checkpoint; a later break is said again.
    const next: SourceCheckpoint = { ...whole, seq: 5, run: 'r2' };
    chains.apply('put', put, next);
    chains.apply('put', put, patch(6, 5, { a: { pos: 8 } }, 'r2'));
    expect(put.get('s')).toStrictEqual({ source: 's', seq: 6, run: 'r2', state: { files: { a: { pos: 8 }, b: { pos: 2 } }, lost: [] } });
    chains.apply('put', put, patch(8, 7, { a: { pos: 9 } }, 'r2'));
    expect(said()).toEqual([
      ['put', 2],
      ['committed', 4],
      ['put', 8],
    ]);
  });
});

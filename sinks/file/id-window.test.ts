import { describe, expect, it } from 'vitest';
import { gatherKeys, hashId, ID_WORDS, IdWindow } from './id-window.js';

function keysOf(ids: string[]): Uint32Array {
  const keys = new Uint32Array(ids.length * ID_WORDS);
  for (const [i, id] of ids.entries()) hashId(id, keys, i * ID_WORDS);
  return keys;
}

/** Claims every key; returns how many were new. */
function claimAll(w: IdWindow, keys: Uint32Array): number {
  let n = 0;
  for (let at = 0; at < keys.length; at += ID_WORDS) if (w.claim(keys, at)) n++;
  return n;
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('IdWindow', () => {
  it('claims an id once: a second claim (a duplicate) is refused; a released id can be claimed again', () => {
    const w = new IdWindow(1000);
    const k = keysOf(['a', 'b']);
    expect(w.claim(k, 0)).toBe(true);
    expect(w.claim(k, 0)).toBe(false);
    expect(w.has(k, 0)).toBe(true);
    expect(w.has(k, 3)).toBe(false);
    w.release(k, 0);
    expect(w.has(k, 0)).toBe(false);
    expect(w.claim(k, 0)).toBe(true);
    expect(w.claim(k, 3)).toBe(true);
  });

  it('remembers the last two generations and forgets the one before', () => {
    const w = new IdWindow(200_000);
    const gens = [ids('g0-', 100_000), ids('g1-', 100_000), ids('g2-', 100_000)].map(keysOf);
    for (const [g, keys] of gens.entries()) {
      if (g > 0) {
        expect(w.generationFull).toBe(true);
        w.rotate();
      }
      expect(claimAll(w, keys)).toBe(keys.length / ID_WORDS);
    }
    const count = (keys: Uint32Array) => {
      let n = 0;
      for (let at = 0; at < keys.length; at += ID_WORDS) if (w.has(keys, at)) n++;
      return n;
    };
    expect(gens.map(count)).toEqual([0, 100_000, 100_000]);
    // An expired id is new again.
    expect(w.claim(gens[0]!, 0)).toBe(true);
  });

  it('keeps every live id through the rebuilds that drop released and expired ones', () => {
    const w = new IdWindow(2_000_000);
    const keys = keysOf(ids('x', 300_000));
    for (let at = 0; at < keys.length; at += ID_WORDS) w.claim(keys, at);
    // Release every other one, then claim more to force rebuilds (the table starts small and grows).
    for (let at = 0; at < keys.length; at += 2 * ID_WORDS) w.release(keys, at);
    const more = keysOf(ids('y', 300_000));
    expect(claimAll(w, more)).toBe(300_000);
    let live = 0;
    for (let at = 0; at < keys.length; at += ID_WORDS) if (w.has(keys, at)) live++;
    expect(live).toBe(150_000);
    expect(claimAll(w, more)).toBe(0);
  });
});

describe('hashId', () => {
  it('gives ids that differ anywhere different keys', () => {
    const seen = new Set<string>();
    const k = new Uint32Array(ID_WORDS);
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAB', 'BAAAAAAAAAAAAAAAAAAAAA', 'a', 'b', 'ab', 'ba', '']) {
      hashId(id, k, 0);
      seen.add(k.join(','));
    }
    expect(seen.size).toBe(8);
  });
});

describe('gatherKeys', () => {
  it('copies the keys of the given rows in order', () => {
    const keys = keysOf(['a', 'b', 'c', 'd']);
    expect([...gatherKeys(keys, [[2], [0, 3]])]).toEqual([...keys.subarray(6, 9), ...keys.subarray(0, 3), ...keys.subarray(9, 12)]);
  });
});

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { DistinctLimit } from './distinct.js';

const limit = (maxDistinct: number, key?: (values: string) => string) =>
  new DistinctLimit({ maxDistinct, option: 'index', component: 'distinct-test', logger: silentLogger(), key });

describe('DistinctLimit.seed', () => {
  it('admits every seeded combination, even beyond max, and nothing new once they reach it', () => {
    const l = limit(2);
    l.seed(['a', 'b', 'c']);
    expect(['a', 'b', 'c', 'd'].map((v) => l.admit(v))).toEqual([true, true, true, false]);
  });

  it('counts seeded combinations towards max: new ones are admitted in arrival order while fewer are known', () => {
    const l = limit(3);
    l.seed(['old']);
    expect(['new-1', 'old', 'new-2', 'new-3', 'new-1'].map((v) => l.admit(v))).toEqual([true, true, true, false, true]);
  });

  it('compares a live combination with the seeded ones by its key', () => {
    const l = limit(1, (values) => values.toLowerCase());
    l.seed(['checkout']);
    expect(['Checkout', 'search'].map((v) => l.admit(v))).toEqual([true, false]);
  });
});

describe('DistinctLimit.refuse and decided', () => {
  it('refuses a refused combination even while there is room and even when seeded', () => {
    const l = limit(3);
    l.refuse(['x', 'known']);
    expect(l.seed(['known', 'old'], false)).toBe(1);
    expect(['x', 'known', 'old', 'a', 'b', 'c', 'd'].map((v) => l.admit(v))).toEqual([false, false, true, true, true, true, false]);
  });

  it('tells each new decision once, by key, and nothing of seeded or refused combinations', () => {
    const told: [string, boolean][] = [];
    const l = new DistinctLimit({
      maxDistinct: 1,
      option: 'bus.topic',
      component: 'distinct-test',
      logger: silentLogger(),
      key: (values) => values.toLowerCase(),
      decided: (key, admitted) => {
        told.push([key, admitted]);
        if (!admitted) l.refuse([key]);
      },
    });
    l.seed(['known'], false);
    l.refuse(['gone']);
    expect(['A', 'a', 'known', 'gone', 'B', 'b', 'C'].map((v) => l.admit(v))).toEqual([true, true, true, false, false, false, false]);
    expect(told).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ]);
  });
});

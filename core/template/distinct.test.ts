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

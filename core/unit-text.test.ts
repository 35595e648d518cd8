import { describe, expect, it } from 'vitest';
import { formatCount } from './unit-text.js';

describe('formatCount', () => {
  it('groups thousands with commas, rounded, as en-US does', () => {
    for (const n of [0, 7, 999, 1000, 12_345, 200_000, 1_234_567, 1e12, -1, -1234, 999.6, -0.4])
      expect(formatCount(n)).toBe(Math.round(n).toLocaleString('en-US').replace('-0', '0'));
  });
});

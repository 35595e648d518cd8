import { describe, expect, it } from 'vitest';
import { timeParser, utc } from './time.js';
import { trimmed } from './trim.js';

/** A small deterministic generator, so a failure names an input that reproduces. */
function generator(seed: number) {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n);
  };
}

describe('time fast paths', () => {
  it('utc() is Date.UTC on every field a parse can leave (50000 random times, years 0-9999, days past the month end)', () => {
    const r = generator(11);
    for (let k = 0; k < 50_000; k++) {
      const args = [r(10_000), 1 + r(12), 1 + r(31), r(24), r(60), r(61), r(1000)] as const;
      expect(utc(...args), JSON.stringify(args)).toBe(Date.UTC(args[0], args[1] - 1, args[2], args[3], args[4], args[5], args[6]));
    }
    // Leap days and century rules.
    for (const year of [1900, 2000, 2024, 2100, 2400])
      for (const day of [28, 29, 30]) expect(utc(year, 2, day, 0, 0, 0, 0)).toBe(Date.UTC(year, 1, day));
  });

  it('reads ISO times alike in UTC and in a zone with DST', () => {
    const auto = timeParser('auto', 'UTC');
    expect(auto('2024-03-01T12:00:59.123Z', 0)).toBe(Date.UTC(2024, 2, 1, 12, 0, 59, 123));
    expect(auto(' 2024-02-29 23:59:60,5 ', 0)).toBe(Date.UTC(2024, 1, 29, 23, 59, 60, 500));
    expect(auto('0099-01-01T00:00:00Z', 0)).toBe(Date.UTC(99, 0, 1));
    const berlin = timeParser('auto', 'Europe/Berlin');
    expect(berlin('2024-03-31T03:30:00', 0)).toBe(Date.UTC(2024, 2, 31, 1, 30));
    expect(berlin('2024-07-01T12:00:00+00:00', 0)).toBe(Date.UTC(2024, 6, 1, 12));
  });

  it('trimmed() is trim() (20000 random texts with ASCII and Unicode spaces at the ends)', () => {
    const r = generator(5);
    const alphabet = [
      'a',
      'Z',
      '9',
      '-',
      ' ',
      '\t',
      '\n',
      '\r',
      '\v',
      '\f',
      '\u00a0',
      '\u2003',
      '\u3000',
      '\ufeff',
      '\u2028',
      'é',
      '\u007f',
      '\u0000',
    ];
    for (let k = 0; k < 20_000; k++) {
      let s = '';
      const length = r(8);
      for (let i = 0; i < length; i++) s += alphabet[r(alphabet.length)];
      expect(trimmed(s), JSON.stringify(s)).toBe(s.trim());
    }
  });
});

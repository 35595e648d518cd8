import { describe, expect, test } from 'vitest';
import { MAX_EVENT_TIME } from '../../../core/event.js';
import { parseTime, TimeParser } from './time.js';

describe('event times from lines: usable, absent, or marked invalid, never NaN', () => {
  const parser = (format: 'auto' | 'epoch_s' | 'epoch_ms') => new TimeParser({ pattern: '^(\\S+)', format }, 4096, 'test');

  test('epoch_ms: an epoch in nanoseconds is out of range, not year 53 million', () => {
    const p = parser('epoch_ms');
    expect(p.parse('1700000000000 ok')).toBe(1_700_000_000_000);
    expect(p.parse('1700000000000000000 ns where ms were expected')).toBeNaN();
    expect(p.invalidText).toBe('1700000000000000000');
    expect(p.parse('-5 before 1970')).toBeNaN();
    expect(p.parse('12abc not a number')).toBeNaN();
    expect(p.invalidText).toBe('12abc');
  });

  test('epoch_s and auto', () => {
    expect(parser('epoch_s').parse('1700000000.5 x')).toBe(1_700_000_000_500);
    expect(parser('epoch_s').parse('1700000000000 x')).toBeNaN(); // ms read as seconds: year 55,800
    const auto = parser('auto');
    expect(auto.parse('2024-03-01T12:00:00.250+01:00 x')).toBe(Date.UTC(2024, 2, 1, 11, 0, 0, 250));
    expect(auto.parse('2024-13-45T99:00:00 x')).toBeNaN();
    expect(auto.parse('0001-01-01T00:00:00Z zero time')).toBeNaN();
    expect(auto.parse('+275760-09-13T00:00:00.000Z x')).toBeNaN();
    expect(auto.parse('yesterday x')).toBeNaN();
    expect(auto.invalidText).toBe('yesterday');
  });

  test('no match: no time in the line (undefined, not invalid); long raw texts are kept short', () => {
    expect(new TimeParser({ pattern: '^\\[(\\d+)\\]', format: 'epoch_s' }, 4096, 't').parse('no brackets')).toBeUndefined();
    const p = new TimeParser({ pattern: '^(x+)', format: 'auto' }, 4096, 't');
    expect(p.parse('x'.repeat(1000))).toBeNaN();
    expect(p.invalidText).toBe(`${'x'.repeat(64)}…`);
  });

  test('parseTime keeps to four-digit years from 1970', () => {
    expect(parseTime('9999-12-31T23:59:59.999Z')).toBe(MAX_EVENT_TIME);
    expect(parseTime('1969-12-31T23:59:59Z')).toBeUndefined();
    expect(parseTime('0070-01-01T00:00:00Z')).toBeUndefined();
    expect(parseTime('2023-02-29 00:00:00')).toBeUndefined();
    expect(parseTime('2024-02-29 00:00:00')).toBe(Date.UTC(2024, 1, 29));
  });
});

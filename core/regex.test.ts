import { describe, expect, it } from 'vitest';
import { compileSafe, nestedRepetition, PatternError, patternProblem } from './regex.js';

describe('compileSafe', () => {
  it('runs a pathological pattern in linear time through V8 fallback engine', () => {
    // Without the fallback this match backtracks 2^30 times (minutes); the test would time out.
    const p = compileSafe('(a+)+$');
    expect(p.linear).toBe(true);
    expect(p.test(`${'a'.repeat(30)}!`)).toBe(false);
    expect(p.test('aaaa')).toBe(true);
  });

  it('keeps named captures', () => {
    const m = compileSafe('^(?<level>[A-Z]+) (?<msg>.*)$').exec('WARN disk almost full');
    expect(m?.groups).toEqual({ level: 'WARN', msg: 'disk almost full' });
  });

  it('bounds patterns the linear engine cannot run to max_match_bytes', () => {
    const p = compileSafe('(?<=id=)\\d+', '', 64);
    expect(p.linear).toBe(false);
    expect(p.exec('id=42')?.[0]).toBe('42');
    expect(p.exec(`${'x'.repeat(100)} id=42`)).toBeNull();
    // Multi-byte text is measured in UTF-8 bytes.
    expect(p.fits('é'.repeat(32))).toBe(true);
    expect(p.fits('é'.repeat(33))).toBe(false);
  });

  it('refuses invalid syntax and exponential shapes with a message fit for a config error', () => {
    expect(() => compileSafe('^(\\d{4}')).toThrow(PatternError);
    expect(patternProblem('^(\\d{4}')).toMatch(/^invalid regular expression \/\^\(\\d\{4\}\/: Unterminated group$/);
    expect(patternProblem('(?=x)(a+)+')).toMatch(/repeats a group that itself repeats \(\(a\+\)\+\)/);
    expect(patternProblem('(a+)+')).toBeUndefined();
  });
});

describe('nestedRepetition', () => {
  it.each([
    ['(a+)+', '(a+)+'],
    ['(\\w+\\s?)*', '(\\w+\\s?)*'],
    ['((a|b)*c)+', '((a|b)*c)+'],
    ['(x(a*))+', '(x(a*))+'],
    ['(a+){2,}', '(a+){'],
  ])('finds %s', (source, found) => expect(nestedRepetition(source)).toBe(found));
  it.each(['(a+)?', '(ab)+', '[(a+)]+', '\\(a+\\)+', '(a+)b+', '(a{1,3})+', 'a++'.slice(0, 2)])('accepts %s', (source) =>
    expect(nestedRepetition(source)).toBeUndefined(),
  );
});

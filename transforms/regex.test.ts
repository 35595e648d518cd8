import { describe, expect, it } from 'vitest';
import { compileRegex, FAST_PATH_BYTES, regexProblem } from './regex.js';

describe('compileRegex', () => {
  it('finds the same matches and groups on both engines', () => {
    const re = compileRegex('(?P<k>[a-z]+)=(?<v>\\d+)', 1024 * 1024);
    const short = 'é a=1 b=22';
    const long = `${'é'.repeat(FAST_PATH_BYTES)} a=1 b=22`;
    for (const text of [short, long]) {
      const found: [string, string, number][] = [];
      re.each(text, (m) => found.push([m.group('k')!, m.group('v')!, m.groupStart('v') - (text.length - short.length)]));
      expect(found).toEqual([
        ['a', '1', 4],
        ['b', '22', 8],
      ]);
    }
    expect(re.names).toEqual(['k', 'v']);
  });

  it('stays linear on lines that make a backtracking engine take seconds or minutes', () => {
    // V8 alone: ~2 s for the first on 64 KiB (quadratic), minutes for the second (exponential).
    expect(compileRegex('error.*timeout', 1024 * 1024).test('error '.repeat(100_000))).toBe(false);
    expect(compileRegex('^(a+)+$', 1024 * 1024).test(`${'a'.repeat(30)}!`)).toBe(false);
    expect(compileRegex('^(\\S+) (\\S+) (.*) (.*)x$', 1024 * 1024).test('error '.repeat(100_000))).toBe(false);
  });

  it('runs RE2-only syntax on RE2 alone, short values included', () => {
    const re = compileRegex('(?i)\\AERROR\\z', 1024);
    expect(re.fast).toBe(false);
    expect(re.test('error')).toBe(true);
    expect(re.test('an error')).toBe(false);
  });

  it('reads at most max_match_bytes of a long value', () => {
    const re = compileRegex('needle', 2048);
    expect(re.test(`${'x'.repeat(1500)}needle`)).toBe(true);
    expect(re.test(`${'x'.repeat(3000)}needle`)).toBe(false);
  });

  it('says what is wrong with a pattern', () => {
    expect(regexProblem('(a)\\1')).toMatch(
      /^invalid regular expression \/\(a\)\\1\/ \(RE2 syntax, which runs in linear time: no backreferences or lookarounds\): /,
    );
    expect(regexProblem('a(?=b)')).toBeDefined();
    expect(regexProblem('^a+$')).toBeUndefined();
  });
});

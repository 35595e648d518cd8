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

  it('runs a pattern the linear engine of V8 refuses on RE2 alone, short values too', () => {
    // Bounds above 16. Backtracking alone, one line of 993 bytes (`deadbeef` x 4, then `x ` x 480)
    // takes 34 s on the first; `a` x 32 and `!` 30 s on the second.
    const id = compileRegex('^(?<id>[0-9a-f]{32}) (?<a>.*) (?<b>.*) (?<c>.*) (?<d>.*) end$', 64 * 1024);
    const words = compileRegex('^(?<msg>(?:\\w+\\s?){1,20})$', 64 * 1024);
    expect({ id: id.fast, words: words.fast }).toEqual({ id: false, words: false });
    expect(id.first(`${'deadbeef'.repeat(4)} 1 2 3 4 end`)?.group('id')).toBe('deadbeef'.repeat(4));
    expect(words.first('two words')?.group('msg')).toBe('two words');
    // Nested bounds count multiplied; up to 16 the fast engine stays.
    expect(compileRegex('(?:[0-9]{4}:){5}', 1024).fast).toBe(false);
    expect(compileRegex('^(?<id>[0-9a-f]{16}) (?<rest>.*)$', 1024).fast).toBe(true);
  });

  it('places a group whose text occurs more than once in the match, on both engines', () => {
    const re = compileRegex('pin (?<value>\\d{4}) for user \\d+', 1024 * 1024);
    for (const prefix of ['', 'é ', 'é'.repeat(FAST_PATH_BYTES)]) {
      const m = re.first(`${prefix}pin 1234 for user 991234`)!;
      expect(m.groupStart('value') - prefix.length).toBe(4);
    }
    // Where the engines read the pattern apart (RE2's `.` takes \r, V8's does not) the place is not known.
    expect(compileRegex('(?<value>b)b.?', 1024).first('bb\r')?.groupStart('value')).toBe(-1);
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

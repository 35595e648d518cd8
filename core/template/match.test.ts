import { describe, expect, it } from 'vitest';
import { compilePattern, globMatcher, headBytes, patternProblem } from './match.js';

const matches = (pattern: string, value: string | undefined, options = {}) => {
  const p = compilePattern(pattern, options);
  return p.negated ? !p.test(value) : p.test(value);
};

describe('value patterns', () => {
  it('matches exact text, globs over the whole value, and regular expressions anywhere', () => {
    expect(matches('payments', 'payments')).toBe(true);
    expect(matches('payments', 'payments-api')).toBe(false);
    expect(matches('pay*', 'payments-api')).toBe(true);
    expect(matches('*-api', 'payments-api')).toBe(true);
    expect(matches('*-api', 'payments-api-2')).toBe(false);
    expect(matches('/^pay/', 'payments')).toBe(true);
    expect(matches('/ment/', 'payments')).toBe(true);
    expect(matches('/^ment/', 'payments')).toBe(false);
    expect(matches('/(?i)ERROR/', 'an error here')).toBe(true);
  });

  it('negates with a leading !, and a missing value matches only negated patterns', () => {
    expect(matches('!debug', 'info')).toBe(true);
    expect(matches('!debug', 'debug')).toBe(false);
    expect(matches('!deb*', 'debug')).toBe(false);
    expect(matches('!/^d/', 'debug')).toBe(false);
    expect(matches('!debug', undefined)).toBe(true);
    expect(matches('*', undefined)).toBe(false);
    expect(matches('/.*/', undefined)).toBe(false);
    expect(matches('x', undefined)).toBe(false);
  });

  it('lower-cases exact and glob patterns for lower-case values, never a regular expression', () => {
    expect(matches('ERROR', 'error', { lowerCase: true })).toBe(true);
    expect(matches('ERR*', 'error', { lowerCase: true })).toBe(true);
    // \D is not \d: the regular expression is left as written.
    expect(matches('/^\\D+$/', 'error', { lowerCase: true })).toBe(true);
  });

  it('globs: every arrangement of stars and pieces, checked against a reference', () => {
    const reference = (glob: string, v: string) =>
      new RegExp(
        `^${glob
          .split('*')
          .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
        's',
      ).test(v);
    const globs = ['*', '**', 'a*', '*a', 'a*b', '*a*b*', 'ab*ab', 'a*a*a', '*aa*', 'a**b', '*b*a', 'aba*aba', ''];
    const values = ['', 'a', 'b', 'ab', 'aa', 'aba', 'abab', 'aab', 'baab', 'ababa', 'abaaba', 'aabbaa', 'a\nb'];
    let checked = 0;
    for (const g of globs)
      for (const v of values) {
        expect(globMatcher(g)(v), `${g} on ${JSON.stringify(v)}`).toBe(reference(g, v));
        checked++;
      }
    expect(checked).toBe(169);
  });

  it('matches a multi-star glob and a regular expression on 1 MiB hostile lines (linear; timing is in bench/patterns)', () => {
    const line = 'error '.repeat(Math.ceil((1 << 20) / 6)).slice(0, 1 << 20);
    expect(matches('*error*timeout*', line)).toBe(false);
    expect(matches('*error*error*', line)).toBe(true);
    expect(matches('/error.*timeout/', line)).toBe(false);
    expect(matches('/(e|er)*x/', line)).toBe(false);
    expect(matches('/(a+)+b/', 'a'.repeat(1 << 20))).toBe(false);
  });

  it('runs a regular expression on the first max_match_bytes of the value only', () => {
    const value = `${'x'.repeat(100)}needle`;
    expect(matches('/needle/', value, { maxMatchBytes: 106 })).toBe(true);
    expect(matches('/needle/', value, { maxMatchBytes: 105 })).toBe(false);
    // Globs and exact text are linear without a bound and see the whole value.
    expect(matches('*needle', value, { maxMatchBytes: 10 })).toBe(true);
  });

  it('cuts values by UTF-8 bytes, never inside a character', () => {
    expect(headBytes('abc', 3)).toBe('abc');
    expect(headBytes('abcd', 3)).toBe('abc');
    expect(headBytes('éé', 3)).toBe('é');
    expect(headBytes('aé', 2)).toBe('a');
    expect(headBytes('😀😀', 7)).toBe('😀');
    expect(headBytes('€€€€', 6)).toBe('€€');
  });

  it('rejects what cannot run in linear time, naming the pattern', () => {
    expect(patternProblem('/(a)\\1/')).toBe(
      'invalid regular expression /(a)\\1/ (RE2 syntax, which runs in linear time: no backreferences or lookarounds): error parsing regexp: invalid escape sequence: `\\1`',
    );
    expect(patternProblem('!/(?=x)y/')).toMatch(/^invalid regular expression \/\(\?=x\)y\/ .*unsupported Perl syntax/);
    expect(patternProblem('/(/')).toMatch(/^invalid regular expression \/\(\/ .*missing closing \)/);
    expect(patternProblem('/(a+)+b/')).toBeUndefined();
    expect(patternProblem('/')).toBeUndefined();
    expect(patternProblem('a*b*c')).toBeUndefined();
  });
});

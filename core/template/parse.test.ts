import { describe, expect, it } from 'vitest';
import {
  literalSegments,
  literalText,
  type Placeholder,
  parseTemplate,
  templateMatcher,
  templatePattern,
  templateProblem,
} from './parse.js';

describe('parseTemplate', () => {
  it('splits text, fields with their fallbacks and time tokens', () => {
    const parts = parseTemplate('logs-{ service }-{fields.team:-shared}/%Y-100%%');
    expect(parts.map((p) => (p.kind === 'field' ? { kind: p.kind, name: p.name, fallback: p.fallback } : p))).toEqual([
      { kind: 'literal', text: 'logs-' },
      { kind: 'field', name: 'service', fallback: 'unknown' },
      { kind: 'literal', text: '-' },
      { kind: 'field', name: 'fields.team', fallback: 'shared' },
      { kind: 'literal', text: '/' },
      { kind: 'time', token: 'Y' },
      { kind: 'literal', text: '-100%' },
    ]);
    expect(literalText(parts)).toBe('logs--/-100%');
  });

  it('reads % as text in a template without time', () => {
    expect(parseTemplate('{service}%{module}%Q', { time: false }).map((p) => (p.kind === 'literal' ? p.text : p.kind))).toEqual([
      'field',
      '%',
      'field',
      '%Q',
    ]);
  });

  it('shows every placeholder to check, with its position, and lets its error replace the generic one', () => {
    const seen: Placeholder[] = [];
    parseTemplate('{ service }/%Y-%%-{host:-h}', { check: (p) => void seen.push(p) });
    expect(seen).toEqual([
      { kind: 'field', name: 'service', at: 1 },
      { kind: 'time', name: 'Y', at: 13 },
      { kind: 'time', name: '%', at: 16 },
      { kind: 'field', name: 'host', at: 19 },
    ]);
    const onlyService = (p: Placeholder) => {
      if (p.kind === 'field' && p.name !== 'service') throw new RangeError(`no {${p.name}} here`);
    };
    expect(() => parseTemplate('{service}/{nope}', { check: onlyService })).toThrow(new RangeError('no {nope} here'));
    expect(() => parseTemplate('{service}/{host}', { check: onlyService })).toThrow(new RangeError('no {host} here'));
    expect(parseTemplate('{service}/%d', { check: onlyService })).toHaveLength(3);
  });

  it('names what is wrong in a bad template, and where', () => {
    expect(templateProblem('{service}/%Q.log')).toBe(
      'template "{service}/%Q.log": unknown time format "%Q" at character 11 (known: %Y %y %m %d %j %H %M %S %%)',
    );
    expect(templateProblem('a/{nope}.log')).toBe(
      'template "a/{nope}.log": {nope} at character 3: unknown field "nope": use service, module, host, level, source.kind, source.path, source.container, source.stream or fields.NAME (fields.a.b reads nested objects and dotted keys alike)',
    );
    expect(templateProblem('{message}')).toBe(
      'template "{message}": {message} at character 1: "message" cannot be used here: a name made from the message would be new for almost every line',
    );
    expect(templateProblem('{fields.a..b}')).toBe(
      'template "{fields.a..b}": {fields.a..b} at character 1: field "fields.a..b" has an empty name between dots',
    );
    expect(templateProblem('x{service:-}')).toBe(
      'template "x{service:-}": {service:-} at character 2 has nothing after ":-" (write {service:-value})',
    );
    expect(templateProblem('{service.log')).toBe('template "{service.log": "{" at character 1 is not closed');
    expect(templateProblem('{a{service}')).toBe('template "{a{service}": "{" at character 1 is not closed before the next "{"');
    expect(templateProblem('a}b')).toBe('template "a}b": "}" at character 2 has no opening "{"');
    expect(templateProblem('%')).toMatch(/unknown time format "%" at character 1/);
    expect(templateProblem('{service}-{fields.kubernetes.pod:-none}-%H')).toBeUndefined();
  });
});

describe('templateMatcher', () => {
  const kafkaChar = (c: number) => /[a-zA-Z0-9._-]/.test(String.fromCharCode(c));
  const lower = (c: number) => c >= 97 && c <= 122;
  const table: [template: string, isValueChar: (c: number) => boolean, name: string, matches: boolean][] = [
    ['logs.{service}', kafkaChar, 'logs.pay', true],
    ['logs.{service}', kafkaChar, 'logs.a.b', true],
    ['logs.{service}', kafkaChar, 'logs.', false],
    ['logs.{service}', kafkaChar, 'logsXpay', false],
    ['logs.{service}', kafkaChar, 'other.pay', false],
    ['logs.{service}', kafkaChar, 'logs.a b', false],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s.m.raw', true],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s.m.x.raw', true],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s..m.raw', true],
    ['app-{service}.{module}.raw', kafkaChar, 'app-a-b.c_d.raw', true],
    ['app-{service}.{module}.raw', kafkaChar, 'app-.m.raw', false],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s..raw', false],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s.raw', false],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s.m.raw.x', false],
    ['app-{service}.{module}.raw', kafkaChar, 'x-app-s.m.raw', false],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s.m.r aw', false],
    ['app-{service}.{module}.raw', kafkaChar, 'app-s m.x.raw', false],
    ['{service}{module}', kafkaChar, 'ab', true],
    ['{service}{module}', kafkaChar, 'a', false],
    ['{service}{module}', kafkaChar, '', false],
    ['x{service}aba{module}y', lower, 'xcabababy', true],
    ['x{service}aba{module}y', lower, 'xcabay', false],
    ['{service}-{module}', lower, 'a-b', true],
    ['{service}-{module}', lower, 'a--b', false],
    ['{service}-{module}', lower, 'a-b-c', false],
    ['{service}-{module}', lower, '-b', false],
    ['{service}-{module}', lower, 'a-', false],
    ['logs', kafkaChar, 'logs', true],
    ['logs', kafkaChar, 'logs.x', false],
  ];

  it('says whether the template can render a name, as its regular expression does', () => {
    for (const [template, isValueChar, name, matches] of table) {
      const parts = parseTemplate(template, { time: false });
      const value = isValueChar === lower ? '[a-z]+' : '[a-zA-Z0-9._-]+';
      expect({ template, name, matches: templateMatcher(parts, isValueChar)(name) }).toEqual({ template, name, matches });
      expect({ template, name, regex: new RegExp(templatePattern(parts, value)).test(name) }).toEqual({ template, name, regex: matches });
    }
  });

  it('decides a 249-character name that almost matches four values in one pass', () => {
    const parts = parseTemplate('logs.{service}.{module}.{host}.{level}.raw', { time: false });
    const matches = templateMatcher(parts, kafkaChar);
    expect(matches(`logs.${'.'.repeat(243)}x`)).toBe(false);
    expect(matches(`logs.${'.'.repeat(240)}.raw`)).toBe(true);
  });

  it('splits the fixed text around the placeholders', () => {
    expect(literalSegments(parseTemplate('logs.{service}{module}.raw'))).toEqual(['logs.', '', '.raw']);
    expect(literalSegments(parseTemplate('{service}'))).toEqual(['', '']);
    expect(literalSegments(parseTemplate('logs'))).toEqual(['logs']);
  });
});

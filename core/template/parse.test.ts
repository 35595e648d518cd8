import { describe, expect, it } from 'vitest';
import { literalText, type Placeholder, parseTemplate, templateProblem } from './parse.js';

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

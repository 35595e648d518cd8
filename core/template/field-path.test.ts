import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/support/index.js';
import type { LogEvent } from '../event.js';
import { fieldPathProblem, fieldText, parseFieldPath } from './field-path.js';

const get = (path: string, over: Partial<LogEvent>) => parseFieldPath(path).get(makeEvent(over));

describe('field paths', () => {
  it('reads the event values by name, level from event.level', () => {
    const e: Partial<LogEvent> = {
      service: 'shop',
      module: 'web',
      host: 'h1',
      level: 'warn',
      message: 'm',
      source: { kind: 'file', path: '/var/log/a.log', container: 'c1', stream: 'stderr' },
      fields: { level: 'ERROR' },
    };
    expect(['service', 'module', 'host', 'level', 'message'].map((p) => get(p, e))).toEqual(['shop', 'web', 'h1', 'warn', 'm']);
    expect(['source.kind', 'source.path', 'source.container', 'source.stream'].map((p) => get(p, e))).toEqual([
      'file',
      '/var/log/a.log',
      'c1',
      'stderr',
    ]);
    // The level lives in event.level; fields.level is just another field.
    expect(get('level', { fields: { level: 'error' } })).toBeUndefined();
    expect(get('fields.level', e)).toBe('ERROR');
  });

  it('reads dotted keys and nested objects alike, the longest key at each level first', () => {
    const path = 'fields.kubernetes.pod.name';
    expect(get(path, { fields: { 'kubernetes.pod.name': 'flat' } })).toBe('flat');
    expect(get(path, { fields: { kubernetes: { pod: { name: 'nested' } } } })).toBe('nested');
    expect(get(path, { fields: { 'kubernetes.pod': { name: 'mixed-1' } } })).toBe('mixed-1');
    expect(get(path, { fields: { kubernetes: { 'pod.name': 'mixed-2' } } })).toBe('mixed-2');
    // Both present: the longer key at the first level wins, and the walk never backs up.
    expect(get(path, { fields: { 'kubernetes.pod': { name: 'long' }, kubernetes: { pod: { name: 'short' } } } })).toBe('long');
    expect(get(path, { fields: { 'kubernetes.pod': { other: 1 }, kubernetes: { pod: { name: 'short' } } } })).toBeUndefined();
    // Container labels: a dotted key holding an object whose keys have dots and slashes.
    expect(
      get('fields.container.labels.app.kubernetes.io/name', { fields: { 'container.labels': { 'app.kubernetes.io/name': 'cart' } } }),
    ).toBe('cart');
  });

  it('indexes arrays by number only, and sees own keys only', () => {
    const fields = { tags: ['a', 'b'], obj: {} };
    expect(get('fields.tags.1', { fields })).toBe('b');
    expect(get('fields.tags.2', { fields })).toBeUndefined();
    expect(get('fields.tags.length', { fields })).toBeUndefined();
    expect(get('fields.tags.01', { fields })).toBeUndefined();
    expect(get('fields.constructor', { fields })).toBeUndefined();
    expect(get('fields.obj.toString', { fields })).toBeUndefined();
    expect(get('fields.__proto__', { fields })).toBeUndefined();
  });

  it('treats absent, null and empty as missing; a value under a scalar is missing', () => {
    expect(get('fields.a', { fields: {} })).toBeUndefined();
    expect(get('fields.a', { fields: { a: null } })).toBeUndefined();
    expect(get('fields.a', { fields: { a: '' } })).toBeUndefined();
    expect(get('fields.a.b', { fields: { a: 'text' } })).toBeUndefined();
    expect(get('fields.a.b', { fields: { a: null } })).toBeUndefined();
    expect(get('level', {})).toBeUndefined();
    expect(get('service', { service: '' })).toBeUndefined();
    expect(get('fields.a', { fields: { a: 0 } })).toBe(0);
    expect(get('fields.a', { fields: { a: false } })).toBe(false);
  });

  it('gives values as text: strings as they are, numbers and booleans printed, objects as JSON', () => {
    expect(fieldText('x')).toBe('x');
    expect(fieldText(42)).toBe('42');
    expect(fieldText(false)).toBe('false');
    expect(fieldText({ a: [1, 'b'] })).toBe('{"a":[1,"b"]}');
    expect(fieldText('')).toBeUndefined();
    expect(fieldText(null)).toBeUndefined();
    expect(fieldText(undefined)).toBeUndefined();
  });

  it('names what is wrong with a path', () => {
    expect(fieldPathProblem('severity')).toBe(
      'unknown field "severity": use service, module, host, level, message, source.kind, source.path, source.container, source.stream or fields.NAME (fields.a.b reads nested objects and dotted keys alike)',
    );
    expect(fieldPathProblem('fields.')).toBe('field "fields." has an empty name between dots');
    expect(fieldPathProblem('fields.a..b')).toBe('field "fields.a..b" has an empty name between dots');
    expect(fieldPathProblem('fields')).toMatch(/^unknown field "fields"/);
    expect(fieldPathProblem('toString')).toMatch(/^unknown field "toString"/);
    expect(fieldPathProblem(`fields.${'a.'.repeat(16)}a`)).toBe(`field "fields.${'a.'.repeat(16)}a" has more than 16 names`);
    expect(fieldPathProblem('message', ['message'])).toBe(
      '"message" cannot be used here: a name made from the message would be new for almost every line',
    );
    expect(fieldPathProblem('fields.a.b')).toBeUndefined();
  });
});

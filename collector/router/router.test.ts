import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { makeEvent } from '../../test/support/index.js';
import { Router } from './router.js';

function ev(id: string, service: string, module: string, fields: LogEvent['fields'] = {}, level?: string): LogEvent {
  return makeEvent({ id, timestamp: 0, message: `m${id}`, service, module, host: 'h', source: { kind: 'demo' }, fields, level });
}

const ids = (events: LogEvent[] | undefined) => (events ?? []).map((e) => e.id);

describe('Router', () => {
  const batch = [
    ev('1', 'payments', 'api', {}, 'error'),
    ev('2', 'payments', 'worker', {}, 'info'),
    ev('3', 'search', 'api', { team: { name: 'search-core' } }, 'error'),
    ev('4', 'auth', 'api', { level: 'error' }),
  ];

  it('sends every event to every sink when there are no routes', () => {
    const r = new Router(undefined, ['a', 'b']).route(batch);
    expect(ids(r.bySink.get('a'))).toEqual(['1', '2', '3', '4']);
    expect(ids(r.bySink.get('b'))).toEqual(['1', '2', '3', '4']);
    expect(r.unrouted).toEqual([]);
    // Each sink's list is its own: a sink that drops from it does not take events from another.
    r.bySink.get('a')!.length = 0;
    expect(ids(r.bySink.get('b'))).toEqual(['1', '2', '3', '4']);
  });

  it('with routes of no rules, sends everything to the default, or leaves everything unrouted without one', () => {
    const toDefault = new Router({ rules: [], default: ['b', 'b'] }, ['a', 'b']).route(batch);
    expect([...toDefault.bySink.keys()]).toEqual(['b']);
    expect(ids(toDefault.bySink.get('b'))).toEqual(['1', '2', '3', '4']);
    expect(toDefault.unrouted).toEqual([]);
    const none = new Router({ rules: [] }, ['a', 'b']).route(batch);
    expect(none.bySink.size).toBe(0);
    expect(ids(none.unrouted)).toEqual(['1', '2', '3', '4']);
    expect(none.unrouted).not.toBe(batch);
  });

  it('takes the first matching rule, then the default; the rest is unrouted', () => {
    const router = new Router(
      {
        rules: [
          { match: { level: ['ERROR', 'fatal'] }, sinks: ['es'], continue: false },
          { match: { service: 'pay*' }, sinks: ['archive'], continue: false },
        ],
      },
      ['es', 'archive'],
    );
    const r = router.route(batch);
    // level is event.level (fields.level of event 4 is just a field), compared case-insensitively;
    // event 1 stops at the first rule
    expect(ids(r.bySink.get('es'))).toEqual(['1', '3']);
    expect(ids(r.bySink.get('archive'))).toEqual(['2']);
    expect(ids(r.unrouted)).toEqual(['4']);
  });

  it('fans out with continue, never writing an event twice to one sink, and uses the default', () => {
    const router = new Router(
      {
        rules: [
          { match: { level: 'error' }, sinks: ['es', 'archive'], continue: true },
          { match: { 'fields.team.name': '/^search-/' }, sinks: ['archive', 'search'], continue: false },
        ],
        default: ['archive'],
      },
      ['es', 'archive', 'search'],
    );
    const r = router.route(batch);
    expect(ids(r.bySink.get('es'))).toEqual(['1', '3']);
    expect(ids(r.bySink.get('archive'))).toEqual(['1', '2', '3', '4']);
    expect(ids(r.bySink.get('search'))).toEqual(['3']);
    expect(r.unrouted).toEqual([]);
  });

  it('supports negation, and a missing value matches no positive pattern', () => {
    const router = new Router(
      {
        rules: [
          { match: { level: '!info' }, sinks: ['noisy'], continue: false },
          { match: { level: '*' }, sinks: ['rest'], continue: false },
        ],
      },
      ['noisy', 'rest'],
    );
    const r = router.route(batch);
    expect(ids(r.bySink.get('noisy'))).toEqual(['1', '3', '4']);
    expect(ids(r.bySink.get('rest'))).toEqual(['2']);
  });

  it('requires every condition of a rule', () => {
    const router = new Router({ rules: [{ match: { service: 'payments', module: 'api' }, sinks: ['x'], continue: false }] }, ['x']);
    const r = router.route(batch);
    expect(ids(r.bySink.get('x'))).toEqual(['1']);
    expect(ids(r.unrouted)).toEqual(['2', '3', '4']);
  });

  it('refuses a route to a sink that does not exist', () => {
    expect(() => new Router({ rules: [{ match: {}, sinks: ['nope'], continue: false }] }, ['x'])).toThrow('unknown sink "nope"');
  });
});

describe('Router match keys and patterns', () => {
  it('reads fields.a.b from dotted keys and nested objects alike, as templates do', () => {
    const router = new Router({ rules: [{ match: { 'fields.kubernetes.namespace': 'prod-*' }, sinks: ['prod'], continue: false }] }, [
      'prod',
    ]);
    const r = router.route([
      ev('flat', 's', 'm', { 'kubernetes.namespace': 'prod-eu' }),
      ev('nested', 's', 'm', { kubernetes: { namespace: 'prod-us' } }),
      ev('other', 's', 'm', { kubernetes: { namespace: 'dev' } }),
      ev('missing', 's', 'm'),
    ]);
    expect(ids(r.bySink.get('prod'))).toEqual(['flat', 'nested']);
    expect(ids(r.unrouted)).toEqual(['other', 'missing']);
  });

  it('matches a multi-star glob and a regular expression on 1 MiB lines, and a regex sees max_match_bytes of a value', () => {
    const hostile = 'error '.repeat(Math.ceil((1 << 20) / 6));
    const router = new Router(
      {
        rules: [
          { name: 'glob', match: { message: '*error*timeout*' }, sinks: ['glob'], continue: true },
          { name: 'regex', match: { message: '/error.*timeout/' }, sinks: ['regex'], continue: false },
        ],
        max_match_bytes: 1024,
      },
      ['glob', 'regex'],
    );
    const late = `${'x'.repeat(2000)} error then timeout`;
    const r = router.route([
      { ...ev('hostile', 's', 'm'), message: hostile },
      { ...ev('hit', 's', 'm'), message: `${hostile}timeout` },
      { ...ev('late', 's', 'm'), message: late },
      { ...ev('early', 's', 'm'), message: 'error then timeout' },
    ]);
    expect(ids(r.bySink.get('glob'))).toEqual(['hit', 'late', 'early']);
    // "hit" has its timeout a MiB in, "late" past the first 1024 bytes: the regex does not see them.
    expect(ids(r.bySink.get('regex'))).toEqual(['early']);
    expect(ids(r.unrouted)).toEqual(['hostile']);
  });

  it('refuses bad keys and patterns with the rule and the key in the message', () => {
    expect(() => new Router({ rules: [{ match: { severity: 'x' }, sinks: ['a'], continue: false }] }, ['a'])).toThrow(
      /^route rule #1: severity: unknown field "severity"/,
    );
    expect(() => new Router({ rules: [{ name: 'r', match: { message: '/(a)\\1/' }, sinks: ['a'], continue: false }] }, ['a'])).toThrow(
      /^route r: message: invalid regular expression \/\(a\)\\1\/ \(RE2 syntax/,
    );
  });
});

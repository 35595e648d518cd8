import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { Router } from './router.js';

function ev(id: string, service: string, module: string, fields: LogEvent['fields'] = {}, level?: string): LogEvent {
  return { id, timestamp: 0, message: `m${id}`, service, module, host: 'h', source: { kind: 'demo' }, fields, ...(level ? { level } : {}) };
}

const ids = (events: LogEvent[] | undefined) => (events ?? []).map((e) => e.id);

describe('Router', () => {
  const batch = [
    ev('1', 'payments', 'api', {}, 'ERROR'),
    ev('2', 'payments', 'worker', {}, 'info'),
    ev('3', 'search', 'api', { team: { name: 'search-core' } }, 'error'),
    ev('4', 'auth', 'api'),
  ];

  it('sends every event to every sink when there are no routes', () => {
    const r = new Router(undefined, ['a', 'b']).route(batch);
    expect(ids(r.bySink.get('a'))).toEqual(['1', '2', '3', '4']);
    expect(ids(r.bySink.get('b'))).toEqual(['1', '2', '3', '4']);
    expect(r.unrouted).toEqual([]);
  });

  it('takes the first matching rule, then the default; the rest is unrouted', () => {
    const router = new Router(
      {
        rules: [
          { match: { level: ['error', 'fatal'] }, sinks: ['es'], continue: false },
          { match: { service: 'pay*' }, sinks: ['archive'], continue: false },
        ],
      },
      ['es', 'archive'],
    );
    const r = router.route(batch);
    // level is compared case-insensitively; event 1 stops at the first rule
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

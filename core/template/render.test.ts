import { describe, expect, it } from 'vitest';
import { captureLogger, makeEvent } from '../../test/support/index.js';
import type { LogEvent } from '../event.js';
import { metrics } from '../metrics.js';
import { DistinctLimit } from './distinct.js';
import { EventTemplate } from './render.js';

const event = (timestamp: number, over: Partial<LogEvent> = {}): LogEvent =>
  makeEvent({ timestamp, service: 'shop', module: 'web', host: 'h1', source: { kind: 'file' }, ...over });

/** A path-segment-like rule for these tests: "/" is not allowed, blank is nothing usable. */
const segment = (v: string) => (v.trim() === '' ? '' : v.replace(/\//g, '_'));

describe('EventTemplate', () => {
  it('puts events either side of midnight in Asia/Kolkata on their local days', () => {
    const t = new EventTemplate('{service}/{module}/%Y-%m-%d/{host}.log', { timeZone: 'Asia/Kolkata', sanitize: segment });
    expect(t.render(event(Date.parse('2024-03-01T18:29:59.999Z')))).toBe('shop/web/2024-03-01/h1.log');
    expect(t.render(event(Date.parse('2024-03-01T18:30:00.000Z')))).toBe('shop/web/2024-03-02/h1.log');
  });

  it('takes fields, level, %j, %y and %%', () => {
    const t = new EventTemplate('{fields.tenant}-{source.kind}-{level}-%y-%j-100%%', { sanitize: segment });
    expect(t.render(event(Date.parse('2024-12-31T12:00:00Z'), { fields: { tenant: 'acme' }, level: 'warn' }))).toBe(
      'acme-file-warn-24-366-100%',
    );
    expect(t.render(event(0, { fields: { tenant: 42 } }))).toBe('42-file-unknown-70-001-100%');
    expect(t.render(event(0))).toBe('unknown-file-unknown-70-001-100%');
  });

  it('reads nested objects and dotted keys the same way in every template', () => {
    const t = new EventTemplate('{fields.k8s.ns}/{fields.k8s.pod}', { sanitize: segment });
    expect(t.render(event(0, { fields: { 'k8s.ns': 'prod', k8s: { pod: 'web-1' } } }))).toBe('prod/web-1');
    expect(t.render(event(0, { fields: { k8s: { ns: 'dev', pod: { id: 7 } } } }))).toBe('dev/{"id":7}');
  });

  it('renders the fallback for a missing value, and for one with nothing usable left', () => {
    const t = new EventTemplate('{fields.team:-shared}/{service}/{host:-nohost}', { sanitize: segment });
    expect(t.render(event(0))).toBe('shared/shop/h1');
    expect(t.render(event(0, { fields: { team: null }, service: '', host: '   ' }))).toBe('shared/unknown/nohost');
    expect(t.render(event(0, { fields: { team: 'a/b' } }))).toBe('a_b/shop/h1');
    // The fallback is a value like any other: the use's rule applies to it.
    expect(new EventTemplate('{service:-a/b}', { sanitize: segment }).render(event(0, { service: '' }))).toBe('a_b');
  });

  it('puts an event whose time no calendar shows on 1970-01-01', () => {
    const t = new EventTemplate('%Y-%m-%d');
    for (const timestamp of [Number.NaN, 1e19, -1, Number.POSITIVE_INFINITY]) expect(t.render(event(timestamp))).toBe('1970-01-01');
  });

  it('renderCached gives what render gives, whatever the mix of values and days', () => {
    const options = { timeZone: 'America/Los_Angeles', sanitize: segment };
    const t = new EventTemplate('{service}/{fields.tenant}/%Y-%m-%d/%H/{host}.log', options);
    const fresh = new EventTemplate(t.text, options);
    const names = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const e = event(Date.UTC(2024, 2, 9) + i * 97_001, {
        service: `s${i % 7}`,
        host: i % 11 === 0 ? '../x' : `h${i % 3}`,
        fields: i % 5 === 0 ? { tenant: { a: i % 2 } } : i % 13 === 0 ? {} : { tenant: i % 4 },
      });
      const name = t.renderCached(e);
      expect(name).toBe(fresh.render(e));
      names.add(name);
    }
    expect(names.size).toBeGreaterThan(1000);
  });

  it('finish shapes the whole name, once per distinct name when cached, and the same string comes back', () => {
    let calls = 0;
    const finish = (name: string) => {
      calls++;
      return name.toUpperCase();
    };
    const t = new EventTemplate('{service}-%Y.%m.%d', { finish });
    const day = Date.UTC(2024, 2, 9);
    const names = new Set<string>();
    for (let i = 0; i < 1000; i++) names.add(t.renderCached(event(day + i * 60_000, { service: i % 2 ? 'a' : 'b' })));
    expect([...names].sort()).toEqual(['A-2024.03.09', 'B-2024.03.09']);
    expect(calls).toBe(2);
    expect(t.render(event(day, { service: 'c' }))).toBe('C-2024.03.09');
  });
});

describe('EventTemplate with max_distinct', () => {
  const overflowed = async (component: string) => {
    const family = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'sluice_template_overflow_events_total');
    return family?.values.find((v) => v.labels.component === component)?.value ?? 0;
  };

  it('gives 1,000 services 50 names and _other, logs it and counts every overflowed event', async () => {
    const { logger, lines } = captureLogger();
    let now = 0;
    const limit = new DistinctLimit({ maxDistinct: 50, option: 'bus.topic', component: 'cap-test', logger, now: () => now });
    const t = new EventTemplate('logs.{service}', { limit });
    const names = new Set<string>();
    for (let round = 0; round < 2; round++) for (let i = 0; i < 1000; i++) names.add(t.renderCached(event(0, { service: `svc-${i}` })));
    expect(names.size).toBe(51);
    expect(names.has('logs._other')).toBe(true);
    expect([...names].filter((n) => n !== 'logs._other').sort()).toEqual(Array.from({ length: 50 }, (_, i) => `logs.svc-${i}`).sort());
    // The first 50 keep their names on the second round too; the 950 others overflow twice each.
    expect(await overflowed('cap-test')).toBe(1900);
    const warns = lines.filter((l) => l.level === 40);
    expect(warns).toEqual([
      expect.objectContaining({
        msg: 'template values beyond max_distinct are named with the overflow value',
        option: 'bus.topic',
        template: 'logs.{service}',
        max_distinct: 50,
        overflow: '_other',
        value: 'logs.svc-50',
        overflowed_events: 1,
      }),
    ]);
    // A minute later, one more line with the count since the last one.
    now = 60_000;
    t.renderCached(event(0, { service: 'svc-999' }));
    expect(lines.filter((l) => l.level === 40).at(-1)).toMatchObject({ value: 'logs.svc-999', overflowed_events: 1900 });
  });

  it('counts combinations of values, not days, and keeps the template shape for the overflow', () => {
    const { logger } = captureLogger();
    const limit = new DistinctLimit({ maxDistinct: 2, option: 'index', component: 'cap-days', logger });
    const t = new EventTemplate('logs-{service}-{module}-%Y.%m.%d', { limit });
    const day = (d: number) => Date.UTC(2024, 0, d);
    const names: string[] = [];
    for (let d = 1; d <= 3; d++)
      for (const [service, module] of [
        ['a', 'x'],
        ['b', 'x'],
        ['a', 'y'],
      ])
        names.push(t.renderCached(event(day(d), { service, module })));
    expect(names).toEqual([
      'logs-a-x-2024.01.01',
      'logs-b-x-2024.01.01',
      'logs-_other-_other-2024.01.01',
      'logs-a-x-2024.01.02',
      'logs-b-x-2024.01.02',
      'logs-_other-_other-2024.01.02',
      'logs-a-x-2024.01.03',
      'logs-b-x-2024.01.03',
      'logs-_other-_other-2024.01.03',
    ]);
    // render() (uncached) follows the same decisions.
    expect(t.render(event(day(4), { service: 'b', module: 'x' }))).toBe('logs-b-x-2024.01.04');
    expect(t.render(event(day(4), { service: 'c', module: 'x' }))).toBe('logs-_other-_other-2024.01.04');
  });

  it('counts values after sanitizing, so values that make one name count once', () => {
    const { logger } = captureLogger();
    const limit = new DistinctLimit({ maxDistinct: 1, option: 'index', component: 'cap-case', logger });
    const t = new EventTemplate('{service}', { limit, sanitize: (v) => v.toLowerCase() });
    expect(['Shop', 'SHOP', 'shop', 'other'].map((service) => t.renderCached(event(0, { service })))).toEqual([
      'shop',
      'shop',
      'shop',
      '_other',
    ]);
  });
});

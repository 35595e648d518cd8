import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { captureLogger, wallClock } from '../../test/support/index.js';
import { IndexNamer, IndexTemplateError, parseIndexTemplate, sanitizeIndexName, sanitizeValue } from './index-name.js';

const event = (over: Partial<LogEvent> = {}): LogEvent => ({
  id: 'x',
  timestamp: Date.UTC(2024, 2, 9, 23, 30, 0),
  message: 'm',
  service: 'checkout',
  module: 'api',
  host: 'web-1',
  source: { kind: 'file' },
  fields: {},
  ...over,
});

describe('index names', () => {
  it('renders the default daily template on the event time in UTC', () => {
    expect(new IndexNamer('logs-{service}-%Y.%m.%d').name(event())).toBe('logs-checkout-2024.03.09');
    expect(new IndexNamer('logs-{service}-{module}-{host}-%Y%m%d%H-%j').name(event())).toBe('logs-checkout-api-web-1-2024030923-069');
  });

  it('renders the day in the configured time zone', () => {
    // 23:30 UTC on the 9th is 00:30 on the 10th in Berlin (CET, +1).
    expect(new IndexNamer('logs-%Y.%m.%d', 'Europe/Berlin').name(event())).toBe('logs-2024.03.10');
    expect(new IndexNamer('logs-%Y.%m.%d', 'America/New_York').name(event())).toBe('logs-2024.03.09');
  });

  it('lowercases values and replaces every character Elasticsearch forbids', () => {
    const namer = new IndexNamer('logs-{service}-%Y.%m.%d');
    expect(namer.name(event({ service: 'Check Out' }))).toBe('logs-check_out-2024.03.09');
    expect(namer.name(event({ service: 'a\\b/c*d?e"f<g>h|i,j#k:l\tm\nn' }))).toBe('logs-a_b_c_d_e_f_g_h_i_j_k_l_m_n-2024.03.09');
    // A comma or a star would make the name a list or a wildcard: another tenant's index.
    expect(namer.name(event({ service: 'x,logs-*' }))).toBe('logs-x_logs-_-2024.03.09');
    expect(namer.name(event({ service: '' }))).toBe('logs-unknown-2024.03.09');
  });

  it('never lets a value start the name with - _ + or be . or ..', () => {
    const namer = new IndexNamer('{service}');
    expect(namer.name(event({ service: '-_+svc' }))).toBe('svc');
    expect(namer.name(event({ service: '.' }))).toBe('unknown');
    expect(namer.name(event({ service: '..' }))).toBe('unknown');
    expect(namer.name(event({ service: '___' }))).toBe('unknown');
    expect(sanitizeIndexName('_x')).toBe('x');
  });

  it('caps values so the whole name stays within 255 bytes and keeps its date', () => {
    const namer = new IndexNamer('logs-{service}-{module}-{host}-%Y.%m.%d');
    const long = 'é'.repeat(400);
    const name = namer.name(event({ service: long, module: long, host: long }));
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith('-2024.03.09')).toBe(true);
    expect(sanitizeValue(long)).toBe('é'.repeat(32));
    expect(Buffer.byteLength(sanitizeIndexName('a'.repeat(300)))).toBe(255);
    // Multi-byte characters are never cut in half.
    expect(sanitizeIndexName('é'.repeat(200))).toBe('é'.repeat(127));
  });

  it('rejects templates that could not produce a valid name', () => {
    expect(() => parseIndexTemplate('Logs-%Y')).toThrow(IndexTemplateError);
    expect(() => parseIndexTemplate('logs-{tenant}')).toThrow('unknown placeholder "{tenant}"');
    expect(() => parseIndexTemplate('logs-%Q')).toThrow('unsupported time field "%Q"');
    expect(() => parseIndexTemplate('_logs')).toThrow('may not start with');
    expect(() => parseIndexTemplate('logs,other')).toThrow('not allowed in an index name');
    expect(() => parseIndexTemplate('')).toThrow('empty');
  });

  it('gives the wildcard pattern and reads the day back out of a name', () => {
    const namer = new IndexNamer('logs-{service}-%Y.%m.%d');
    expect(namer.pattern()).toBe('logs-*-*.*.*');
    expect(namer.dayOf('logs-checkout-2024.03.09')).toBe(Date.UTC(2024, 2, 9));
    expect(namer.dayOf('logs-a-b-2024.12.31')).toBe(Date.UTC(2024, 11, 31));
    expect(namer.dayOf('logs-checkout')).toBeUndefined();
    expect(namer.dayOf('other-checkout-2024.03.09')).toBeUndefined();
    expect(new IndexNamer('logs-%Y-%j').dayOf('logs-2024-069')).toBe(Date.UTC(2024, 2, 9));
    expect(new IndexNamer('logs-{service}').daily).toBe(false);
  });

  it('names each hour in its zone like Intl does across DST changes, and retention reads back the day written', () => {
    const reference = (clock: ReturnType<typeof wallClock>, ms: number) => {
      const p = clock(ms);
      const doy = (Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)) - Date.UTC(Number(p.year), 0, 1)) / 86_400_000 + 1;
      return `logs-${p.year}.${p.month}.${p.day}.${p.hour}-${String(doy).padStart(3, '0')}`;
    };
    // Spring forward and fall back in Europe and North America (St John's: -3:30/-2:30), and
    // Lord Howe's half-hour DST in April; Kolkata (+5:30) has none but an odd offset.
    const starts = [
      Date.UTC(2024, 2, 9, 0),
      Date.UTC(2024, 2, 30, 20),
      Date.UTC(2024, 3, 6, 10),
      Date.UTC(2024, 9, 26, 20),
      Date.UTC(2024, 10, 2, 20),
    ];
    for (const tz of ['Europe/Berlin', 'America/St_Johns', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
      const fmt = wallClock(tz);
      const hourly = new IndexNamer('logs-%Y.%m.%d.%H-%j', tz);
      const daily = new IndexNamer('logs-{service}-%Y.%m.%d', tz);
      const times = starts.flatMap((start) => Array.from({ length: 720 }, (_, i) => start + i * 239_999));
      // Back and forth through time, as replays and late events arrive: the caches must not care.
      const order = times.map((_, i) => (i * 7919) % times.length);
      expect(new Set(order).size).toBe(times.length);
      for (const i of order) {
        const ms = times[i]!;
        expect(hourly.name(event({ timestamp: ms }))).toBe(reference(fmt, ms));
        expect(daily.dayOf(daily.name(event({ timestamp: ms })))).toBe(daily.dayNumber(ms));
      }
    }
  });

  it('reads placeholders as the file sink does, but allows only what an index name may hold', () => {
    // Spaces inside braces are read as in file path templates; a stray "}" is a typo, not text.
    expect(new IndexNamer('logs-{ service }-%Y.%m.%d').name(event())).toBe('logs-checkout-2024.03.09');
    expect(() => parseIndexTemplate('logs-}')).toThrow(IndexTemplateError);
    expect(() => parseIndexTemplate('logs-}')).toThrow('"}" at character 6 has no opening "{"');
    expect(() => parseIndexTemplate('logs-{service')).toThrow(IndexTemplateError);
    expect(() => parseIndexTemplate('logs-{service')).toThrow('"{" at character 6 is not closed');
    // The file sink's extra vocabulary stays out: event fields and anything finer than an hour.
    expect(() => parseIndexTemplate('logs-{fields.tenant}')).toThrow('unknown placeholder "{fields.tenant}" at character 6');
    expect(() => parseIndexTemplate('logs-{source.kind}')).toThrow('unknown placeholder "{source.kind}"');
    for (const t of ['M', 'S', 'y'])
      expect(() => parseIndexTemplate(`logs-%H%${t}`)).toThrow(`unsupported time field "%${t}" at character 8`);
    expect(() => parseIndexTemplate('logs-%')).toThrow('unsupported time field "%" at character 6');
    expect(new IndexNamer('logs-100%%-{host}').name(event())).toBe('logs-100%-web-1');
  });

  it('puts an event without a usable time on 1970.01.01, as the file sink does', () => {
    expect(new IndexNamer('logs-{service}-%Y.%m.%d').name(event({ timestamp: Number.NaN }))).toBe('logs-checkout-1970.01.01');
  });
});

describe('index names with index_max_distinct', () => {
  it('gives 1,000 services 50 indices a day and one _other index, which retention and the pattern still cover', () => {
    const { logger, lines } = captureLogger();
    const namer = new IndexNamer('logs-{service}-%Y.%m.%d', 'UTC', { maxDistinct: 50, component: 'es-cap', logger });
    const names = new Set<string>();
    for (let i = 0; i < 1000; i++) names.add(namer.name(event({ service: `Pod-${i}` })));
    expect(names.size).toBe(51);
    expect([...names].filter((n) => n.includes('_other'))).toEqual(['logs-_other-2024.03.09']);
    expect(names.has('logs-pod-49-2024.03.09')).toBe(true);
    expect(names.has('logs-pod-50-2024.03.09')).toBe(false);
    // The next day the same 50 services keep their own indices.
    expect(namer.name(event({ service: 'Pod-7', timestamp: Date.UTC(2024, 2, 10) }))).toBe('logs-pod-7-2024.03.10');
    expect(namer.dayOf('logs-_other-2024.03.09')).toBe(Date.UTC(2024, 2, 9));
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(lines[0]).toMatchObject({ option: 'index', max_distinct: 50, value: 'logs-pod-50-2024.03.09' });
  });

  it('takes no limit at 0, and a missing value renders the placeholder fallback', () => {
    const { logger } = captureLogger();
    const namer = new IndexNamer('logs-{service}-{module:-main}', 'UTC', { maxDistinct: 0, component: 'es-nocap', logger });
    const names = new Set(Array.from({ length: 300 }, (_, i) => namer.name(event({ service: `s${i}`, module: '' }))));
    expect(names.size).toBe(300);
    expect(names.has('logs-s1-main')).toBe(true);
  });
});

describe('index_max_distinct seeded from the existing indices', () => {
  const capped = (template: string, maxDistinct: number) =>
    new IndexNamer(template, 'UTC', { maxDistinct, component: 'es-seed', logger: captureLogger().logger });
  const on = (d: number, over: Partial<LogEvent>) => event({ timestamp: Date.UTC(2024, 2, d, 12), ...over });

  it('admits the combinations the names show, even beyond the cap, before those that arrive first', () => {
    const namer = capped('logs-{service}-%Y.%m.%d', 2);
    expect(namer.capped).toBe(true);
    const seeded = namer.seed([
      'logs-checkout-2024.03.09',
      'logs-checkout-2024.03.10',
      'logs-search-2024.01.01',
      'logs-pay-2023.12.31',
      // Not combinations: the overflow index, and names this template did not make.
      'logs-_other-2024.03.09',
      'logs-search-x.y.z',
      'logs-2024.03.09',
      'metrics-cart-2024.03.09',
    ]);
    expect(seeded).toBe(3);
    expect(
      [on(11, { service: 'cart' }), on(11, { service: 'Checkout' }), on(12, { service: 'pay' }), on(12, { service: 'search' })].map((e) =>
        namer.name(e),
      ),
    ).toEqual(['logs-_other-2024.03.11', 'logs-checkout-2024.03.11', 'logs-pay-2024.03.12', 'logs-search-2024.03.12']);
  });

  it('counts what exists towards the cap: new combinations are admitted in arrival order while fewer are known', () => {
    const namer = capped('logs-{service}-%Y.%m.%d', 3);
    expect(namer.seed(['logs-pay-2024.03.01'])).toBe(1);
    expect(['cart', 'search', 'mail', 'pay', 'cart'].map((service) => namer.name(on(9, { service })))).toEqual([
      'logs-cart-2024.03.09',
      'logs-search-2024.03.09',
      'logs-_other-2024.03.09',
      'logs-pay-2024.03.09',
      'logs-cart-2024.03.09',
    ]);
  });

  it('admits every combination that makes an existing name, however the values split it', () => {
    const namer = capped('logs-{service}-{module}-%Y.%m.%d', 1);
    expect(namer.seed(['logs-a-b-c-2024.03.09'])).toBe(1);
    expect(
      [on(10, { service: 'a-b', module: 'c' }), on(10, { service: 'a', module: 'b-c' }), on(10, { service: 'a', module: 'b' })].map((e) =>
        namer.name(e),
      ),
    ).toEqual(['logs-a-b-c-2024.03.10', 'logs-a-b-c-2024.03.10', 'logs-_other-_other-2024.03.10']);
  });

  it('reads a name whose date could sit in two places both ways, when the date is between values', () => {
    const namer = capped('logs-{service}-%Y.%m.%d-{host}', 2);
    expect(namer.seed(['logs-a-2024.01.01-2024.03.09-web'])).toBe(2);
    expect(
      [
        on(10, { service: 'b', host: 'web' }),
        on(10, { service: 'a-2024.01.01', host: 'web' }),
        on(10, { service: 'a', host: '2024.03.09-web' }),
      ].map((e) => namer.name(e)),
    ).toEqual(['logs-_other-2024.03.10-_other', 'logs-a-2024.01.01-2024.03.10-web', 'logs-a-2024.03.10-2024.03.09-web']);
  });

  it('compares a value that lost its leading "_" to the name with the name', () => {
    const namer = capped('{service}-%Y.%m.%d', 1);
    expect(namer.seed(['pay-2024.03.01'])).toBe(1);
    expect(['_Pay', 'pay', 'cart'].map((service) => namer.name(on(9, { service })))).toEqual([
      'pay-2024.03.09',
      'pay-2024.03.09',
      'other-2024.03.09',
    ]);
  });

  it('reads data stream names, which have no date', () => {
    const namer = capped('logs-{service}-default', 1);
    expect(namer.seed(['logs-search-default', 'logs-_other-default', 'logs-search-other'])).toBe(1);
    expect(['cart', 'search'].map((service) => namer.name(on(9, { service })))).toEqual(['logs-_other-default', 'logs-search-default']);
  });

  it('has nothing to seed without a cap or without values', () => {
    const uncapped = capped('logs-{service}-%Y.%m.%d', 0);
    expect(uncapped.capped).toBe(false);
    expect(uncapped.seed(['logs-a-2024.03.09'])).toBe(0);
    const fixed = capped('logs-%Y.%m.%d', 5);
    expect(fixed.capped).toBe(false);
    expect(fixed.seed(['logs-2024.03.09'])).toBe(0);
  });
});

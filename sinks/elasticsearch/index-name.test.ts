import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
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
});

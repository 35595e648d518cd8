import { describe, expect, it } from 'vitest';
import { elasticsearchSinkOptions } from './options.js';

describe('elasticsearch sink options', () => {
  it('reports an unknown time zone as a config problem, also when retention needs the day (no exception)', () => {
    const r = elasticsearchSinkOptions.safeParse({ timezone: 'Mars/Olympus', retention_days: 3 });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain('timezone');
  });

  it('refuses retention without a daily index name', () => {
    const r = elasticsearchSinkOptions.safeParse({ index: 'logs-{service}', retention_days: 3 });
    expect(r.error?.issues).toEqual([
      expect.objectContaining({ path: ['retention_days'], message: expect.stringContaining('needs a daily index name') }),
    ]);
  });

  it("refuses index_max_distinct with a name that starts with a {field}: its overflow index would be a service's", () => {
    const r = elasticsearchSinkOptions.safeParse({ index: '{service}-%Y.%m.%d' });
    expect(r.error?.issues).toEqual([
      expect.objectContaining({
        path: ['index'],
        message: expect.stringContaining('"{service}-%Y.%m.%d" starts with a {field}: the overflow index of index_max_distinct'),
      }),
    ]);
    expect(r.error?.issues[0]?.message).toContain('(e.g. "logs-{service}-%Y.%m.%d")');
    // Without the cap there is no overflow index; with text in front, it is "logs-_other-…".
    expect(elasticsearchSinkOptions.safeParse({ index: '{service}-%Y.%m.%d', index_max_distinct: 0 }).success).toBe(true);
    expect(elasticsearchSinkOptions.safeParse({ index: 'logs-{service}-%Y.%m.%d' }).success).toBe(true);
    expect(elasticsearchSinkOptions.safeParse({ index: '%Y-{service}' }).success).toBe(true);
  });
});

describe('elasticsearch sink options: the shared blocks', () => {
  it('takes the one tls block and the one batch block, with units', () => {
    const o = elasticsearchSinkOptions.parse({
      url: 'https://es-1:9200',
      tls: { ca_file: '/etc/ca.pem', verify: false },
      batch: { max_events: 10, timeout: '20ms' },
    });
    expect(o.tls).toEqual({ ca_file: '/etc/ca.pem', verify: false });
    expect(o.batch).toEqual({ max_events: 10, max_bytes: 5 * 1024 * 1024, timeout: 20 });
  });

  it('refuses a tls block when no url is https', () => {
    const r = elasticsearchSinkOptions.safeParse({ url: 'http://es-1:9200', tls: { verify: false } });
    expect(r.error?.issues).toEqual([expect.objectContaining({ path: ['tls'], message: expect.stringContaining('https://') })]);
  });

  it('refuses a url without a scheme and durations without a unit', () => {
    const r = elasticsearchSinkOptions.safeParse({ url: 'es-1:9200', request_timeout: 30 });
    expect(r.error?.issues.map((i) => i.path.join('.'))).toEqual(['url', 'request_timeout']);
  });
});

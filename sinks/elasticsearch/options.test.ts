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

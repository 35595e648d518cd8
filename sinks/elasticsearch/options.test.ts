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

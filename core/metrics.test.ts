import { describe, expect, it } from 'vitest';
import { metrics, scraped } from './metrics.js';

describe('process metrics', () => {
  it('begin with the first scrape, so an agent nobody scrapes runs no event-loop monitor', async () => {
    expect(metrics.getSingleMetric('sluice_process_nodejs_eventloop_lag_p99_seconds')).toBeUndefined();
    expect(await metrics.metrics()).not.toContain('sluice_process_');
    const text = await scraped().metrics();
    expect(text).toContain('sluice_process_process_cpu_user_seconds_total');
    expect(text).toContain('sluice_process_nodejs_eventloop_lag_p99_seconds');
    // A second scrape registers nothing twice (prom-client would throw).
    expect(await scraped().metrics()).toContain('sluice_process_process_resident_memory_bytes');
  });
});

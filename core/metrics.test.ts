import { describe, expect, it } from 'vitest';
import { metrics } from './metrics.js';

describe('process metrics', () => {
  it('has the process series from the start, and no event-loop histogram (its 10 ms timer was half an idle agent)', async () => {
    const text = await metrics.metrics();
    expect(text).toContain('sluice_process_process_cpu_user_seconds_total');
    expect(text).toContain('sluice_process_process_resident_memory_bytes');
    // Measured at the scrape, by a setImmediate: no timer between scrapes.
    expect(text).toContain('sluice_process_nodejs_eventloop_lag_seconds ');
    for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'])
      expect(text).not.toContain(`nodejs_eventloop_lag_${stat}_seconds`);
  });
});

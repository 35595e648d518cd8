import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import type { ChannelWriter } from '../core/pipeline.js';
import { Readiness } from '../api/readiness.js';
import { Taps } from '../api/tap.js';
import { transformingWriter } from '../transforms/writer.js';
import { ComponentMeter, deliveryLatency, markRead, meteredWriter, STAMPS_KEPT } from './instrument.js';

const event = (id: string): LogEvent => ({
  id,
  timestamp: 0,
  message: 'm',
  service: 's',
  module: 'm',
  host: 'h',
  source: { kind: 'test' },
  fields: {},
});

async function observed(component: string): Promise<number> {
  const { values } = await deliveryLatency.get();
  const count = values.find((v) => v.metricName === 'sluice_delivery_latency_seconds_count' && v.labels.component === component);
  return count?.value ?? 0;
}

describe('delivery latency', () => {
  it('follows a batch by its events’ ids, so events decoded again into new objects are still observed', async () => {
    const meter = new ComponentMeter({ component: 'latency-test-decoded', kind: 'sink', type: 'file' });
    markRead([event('decoded-1'), event('decoded-2')], 'source_read');
    // What a disk channel hands its taker: new objects with the same ids, batched differently.
    meter.delivered([event('decoded-0'), event('decoded-1')]);
    expect(await observed('latency-test-decoded')).toBe(1);
    // A second sink writing the same events observes them too.
    const other = new ComponentMeter({ component: 'latency-test-decoded-2', kind: 'sink', type: 'file' });
    other.delivered([event('decoded-1')]);
    expect(await observed('latency-test-decoded-2')).toBe(1);
  });

  it(`remembers the newest ${STAMPS_KEPT} batches`, async () => {
    const meter = new ComponentMeter({ component: 'latency-test-bounded', kind: 'sink', type: 'file' });
    for (let i = 0; i <= STAMPS_KEPT; i++) markRead([event(`bounded-${i}`)], 'source_read');
    meter.delivered([event('bounded-0')]);
    expect(await observed('latency-test-bounded')).toBe(0);
    meter.delivered([event('bounded-1'), event(`bounded-${STAMPS_KEPT}`)]);
    expect(await observed('latency-test-bounded')).toBe(2);
  });

  it('still finds a stamp after another with the same id ending was forgotten', async () => {
    const meter = new ComponentMeter({ component: 'latency-test-ending', kind: 'sink', type: 'file' });
    // Same length, same last characters: one bucket of the quick check before the id's lookup.
    markRead([event('older:000042')], 'source_read');
    markRead([event('newer:000042')], 'source_read');
    for (let i = 0; i < STAMPS_KEPT - 1; i++) markRead([event(`ending-filler-${i}`)], 'source_read');
    meter.delivered([event('older:000042')]);
    expect(await observed('latency-test-ending')).toBe(0);
    meter.delivered([event('newer:000042')]);
    expect(await observed('latency-test-ending')).toBe(1);
  });
});

describe("a source's tap", () => {
  it('shows what went into the channel: after the transforms, so what they redact stays redacted', async () => {
    const channel: ChannelWriter = { put: async () => undefined, lastCheckpoint: () => undefined };
    const redacting = transformingWriter(channel, (events) => events.map((e) => ({ ...e, message: '[REDACTED]' })));
    const taps = new Taps();
    taps.declare('sources.app');
    const lines: string[] = [];
    taps.subscribe({ components: ['sources.app'], rate: 100 }, { write: (l: string) => lines.push(l) > 0, end: () => undefined });
    const status = new Readiness(30_000).add('sources.app', 'source', 'file', 'grace');
    const meter = new ComponentMeter({ component: 'tap-after-transforms', kind: 'source', type: 'file' });
    await meteredWriter(redacting, meter, status, taps, 'sources.app').put([{ ...event('t1'), message: 'password=hunter2' }]);
    expect(lines.map((l) => (JSON.parse(l) as { event: LogEvent }).event.message)).toEqual(['[REDACTED]']);
  });
});

import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../api/prometheus.js';
import type { ProbeAnswer } from '../api/readiness.js';
import { renderTop, snapshot } from './top-view.js';

const scrape = (at: number, lines: string[]) => ({ at, families: parsePrometheusText(`${lines.join('\n')}\n`) });
const c = (name: string, component: string, kind: string, type: string, v: number, extra = '') =>
  `${name}{component="${component}",kind="${kind}",type="${type}"${extra}} ${v}`;

describe('sluice top view', () => {
  it('rates per component over the interval, pipeline order, the slowest sink and the Kafka lag with the time to catch up', () => {
    const before = scrape(0, [
      c('sluice_component_received_events_total', 'bus', 'bus', 'kafka', 1000),
      c('sluice_component_sent_events_total', 'bus', 'bus', 'kafka', 1000),
      c('sluice_component_received_events_total', 'sinks.es', 'sink', 'elasticsearch', 1000),
      c('sluice_component_sent_events_total', 'sinks.es', 'sink', 'elasticsearch', 900),
      c('sluice_delivery_latency_seconds_bucket', 'sinks.es', 'sink', 'elasticsearch', 0, ',since="bus_receive",le="0.1"'),
      c('sluice_delivery_latency_seconds_bucket', 'sinks.es', 'sink', 'elasticsearch', 0, ',since="bus_receive",le="1"'),
      c('sluice_delivery_latency_seconds_bucket', 'sinks.es', 'sink', 'elasticsearch', 0, ',since="bus_receive",le="+Inf"'),
    ]);
    const after = scrape(2000, [
      c('sluice_component_received_events_total', 'bus', 'bus', 'kafka', 3000),
      c('sluice_component_sent_events_total', 'bus', 'bus', 'kafka', 3000),
      c('sluice_component_received_events_total', 'sinks.es', 'sink', 'elasticsearch', 3000),
      c('sluice_component_sent_events_total', 'sinks.es', 'sink', 'elasticsearch', 2900),
      c('sluice_component_errors_total', 'sinks.es', 'sink', 'elasticsearch', 3, ',stage="sending"'),
      c('sluice_delivery_latency_seconds_bucket', 'sinks.es', 'sink', 'elasticsearch', 50, ',since="bus_receive",le="0.1"'),
      c('sluice_delivery_latency_seconds_bucket', 'sinks.es', 'sink', 'elasticsearch', 100, ',since="bus_receive",le="1"'),
      c('sluice_delivery_latency_seconds_bucket', 'sinks.es', 'sink', 'elasticsearch', 100, ',since="bus_receive",le="+Inf"'),
      'sluice_bus_consumer_lag_records{component="bus",topic="logs",partition="0"} 6000',
      'sluice_bus_consumer_lag_records{component="bus",topic="logs",partition="1"} 6000',
    ]);
    const ready: ProbeAnswer = {
      status: 'not ready',
      reasons: ['sinks.es failing for 40s: timeout'],
      uptime_seconds: 3725,
      components: [
        { component: 'sinks.es', kind: 'sink', type: 'elasticsearch', state: 'failing', since: '', ready: false },
        { component: 'bus', kind: 'bus', type: 'kafka', state: 'running', since: '', ready: true },
      ],
    };
    const s = snapshot(before, after, ready);
    expect(s.rows.map((r) => [r.component, r.state, r.inPerSec, r.outPerSec, r.errors])).toEqual([
      ['bus', 'running', 1000, 1000, 0],
      ['sinks.es', 'failing', 1000, 1000, 3],
    ]);
    expect(s.slowest).toEqual({ component: 'sinks.es', p50: 0.1, p99: 0.982 });
    expect(s.lag).toEqual({ records: 12000, perSec: 1000 });
    const lines = renderTop(s, { url: 'http://127.0.0.1:8686', role: 'collector', now: new Date('2024-05-01T12:00:00Z') }, 200);
    expect(lines[0]).toBe(
      'sluice top — http://127.0.0.1:8686 (collector) — up 1:02:05 — NOT READY: sinks.es failing for 40s: timeout — 12:00:00',
    );
    expect(lines.at(-1)).toBe(
      'slowest sink: sinks.es (p50 100ms, p99 982ms)   kafka lag: 12,000 records, ~0:00:12 to catch up at 1,000 ev/s',
    );
    expect(renderTop(s, { url: 'u', now: new Date() }, 40).every((l) => l.length <= 40)).toBe(true);
  });
});

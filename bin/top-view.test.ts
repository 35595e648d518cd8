import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../api/prometheus.js';
import type { ProbeAnswer } from '../api/readiness.js';
import { renderTop, snapshot } from './top-view.js';

const scrape = (at: number, lines: string[]) => ({ at, families: parsePrometheusText(`${lines.join('\n')}\n`) });
const c = (name: string, component: string, kind: string, type: string, v: number, extra = '') =>
  `${name}{component="${component}",kind="${kind}",type="${type}"${extra}} ${v}`;

describe('sluice top view', () => {
  it('rates per component over the interval, pipeline order, the slowest sink and the Kafka lag with the time to catch up', () => {
    const es = (name: string, v: number, extra = '') => c(name, 'sinks.es', 'sink', 'elasticsearch', v, extra);
    /** A collector with `events` through the bus and the sink, `sent` of them written; latency buckets le 0.1, 1, +Inf. */
    const collector = (at: number, events: number, sent: number, buckets: [number, number, number], more: string[] = []) =>
      scrape(at, [
        c('sluice_component_received_events_total', 'bus', 'bus', 'kafka', events),
        c('sluice_component_sent_events_total', 'bus', 'bus', 'kafka', events),
        es('sluice_component_received_events_total', events),
        es('sluice_component_sent_events_total', sent),
        ...['0.1', '1', '+Inf'].map((le, i) =>
          es('sluice_delivery_latency_seconds_bucket', buckets[i]!, `,since="bus_receive",le="${le}"`),
        ),
        ...more,
      ]);
    const before = collector(0, 1000, 900, [0, 0, 0]);
    const after = collector(
      2000,
      3000,
      2900,
      [50, 100, 100],
      [
        es('sluice_component_errors_total', 3, ',stage="sending"'),
        'sluice_bus_consumer_lag_records{component="bus",topic="logs",partition="0"} 6000',
        'sluice_bus_consumer_lag_records{component="bus",topic="logs",partition="1"} 6000',
      ],
    );
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
    expect(s.rows[0]!.detail).toBe('consumer lag 12,000 records');
    const lines = renderTop(s, { url: 'http://127.0.0.1:8686', role: 'collector', now: new Date('2024-05-01T12:00:00Z') }, 200);
    expect(lines[0]).toBe(
      'sluice top — http://127.0.0.1:8686 (collector) — up 1:02:05 — NOT READY: sinks.es failing for 40s: timeout — 12:00:00',
    );
    expect(lines.at(-1)).toBe(
      'slowest sink: sinks.es (p50 100ms, p99 982ms)   kafka lag: 12,000 records, ~0:00:12 to catch up at 1,000 ev/s',
    );
    expect(renderTop(s, { url: 'u', now: new Date() }, 40).every((l) => l.length <= 40)).toBe(true);
  });

  it('shows a file source reading a backlog (done / total, rate, time left), its lag, and the channel fill and oldest age', () => {
    const MiB = 1024 * 1024;
    const common = (at: number, done: number, sent: number) => [
      c('sluice_component_received_events_total', 'sources.app', 'source', 'file', sent),
      c('sluice_component_received_events_total', 'sources.web', 'source', 'file', 0),
      c('sluice_component_received_events_total', 'channel', 'channel', 'disk', sent),
      `sluice_file_source_open_files{component="app"} 3`,
      `sluice_file_source_backlog_total_bytes{component="app"} ${at === 0 ? 40 * MiB : 48 * MiB}`,
      `sluice_file_source_backlog_done_bytes{component="app"} ${done}`,
      `sluice_file_source_lag_bytes{component="app"} ${(at === 0 ? 40 * MiB : 48 * MiB) - done}`,
      `sluice_file_source_lag_bytes{component="web"} 2048`,
      `sluice_file_source_backlog_total_bytes{component="web"} 0`,
      `sluice_channel_buffered_events{component="channel"} 5000`,
      `sluice_channel_buffered_bytes{component="channel"} ${4 * MiB}`,
      `sluice_channel_fill_ratio{component="channel"} 0.125`,
      `sluice_channel_oldest_event_age_seconds{component="channel"} 4.25`,
    ];
    const before = scrape(0, common(0, 4 * MiB, 1000));
    const after = scrape(2000, common(2000, 12 * MiB, 3000));
    const ready: ProbeAnswer = { status: 'ok', reasons: [], uptime_seconds: 10, components: [] };
    const s = snapshot(before, after, ready);
    // 8 MiB done in 2 s; 36 MiB left at 4 MiB/s.
    expect(s.backlogs).toEqual([{ component: 'sources.app', done: 12 * MiB, total: 48 * MiB, bytesPerSec: 4 * MiB }]);
    expect(s.rows.map((r) => [r.component, r.detail])).toEqual([
      ['sources.app', 'backlog 12.0 MiB / 48.0 MiB (25%), 3 open files'],
      ['sources.web', 'lag 2.0 KiB'],
      ['channel', 'fill 12.5%, oldest 4.3s, buffered 4.0 MiB (5,000 ev)'],
    ]);
    const lines = renderTop(s, { url: 'http://127.0.0.1:8686', role: 'agent', now: new Date('2024-05-01T12:00:00Z') }, 200);
    expect(lines.at(-1)).toBe('backlog sources.app: 12.0 MiB / 48.0 MiB (25%), 4.0 MiB/s, ~0:00:09 left');
  });

  it('takes the rate of a backlog that began between two scrapes from the bytes handed to the channel', () => {
    const before = scrape(0, ['sluice_file_source_bytes_total{component="app"} 1000']);
    const after = scrape(1000, [
      c('sluice_component_received_events_total', 'sources.app', 'source', 'file', 10),
      'sluice_file_source_bytes_total{component="app"} 501000',
      'sluice_file_source_backlog_total_bytes{component="app"} 2000000',
      'sluice_file_source_backlog_done_bytes{component="app"} 0',
    ]);
    const s = snapshot(before, after, { status: 'ok', reasons: [], uptime_seconds: 1, components: [] });
    expect(s.backlogs).toEqual([{ component: 'sources.app', done: 0, total: 2000000, bytesPerSec: 500000 }]);
    expect(s.rows[0]!.detail).toBe('backlog 0 B / 1.9 MiB (0%)');
    expect(renderTop(s, { url: 'u', now: new Date() }).at(-1)).toBe('backlog sources.app: 0 B / 1.9 MiB (0%), 488.3 KiB/s, ~0:00:04 left');
  });
});

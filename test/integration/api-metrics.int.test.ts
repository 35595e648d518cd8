// /metrics, /ready, `sluice top --once` and `sluice tap --limit` against live instances of
// the built CLI: exact per-component counters after a known load, read back with the
// Prometheus text format reader, in `sluice run` and across the real Kafka broker.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/index.js';
import { apiWorkspace, lagDrained, ready, scrape, tapWhile, value } from './api-harness.js';
import { appendEvents, CLI, lossAndDuplicates, runYaml, tally } from './bus-harness.js';

const { setup, start, kafkaPair } = apiWorkspace('sluice-api-metrics-');
/** appendEvents writes lines of 200 bytes with the newline: messages of 199 characters. */
const MESSAGE_BYTES = 199;

describe('api metrics (built CLI)', () => {
  it('sluice run: every component counts exactly the events of a known load; top and tap show them', async () => {
    const { dir, logs } = setup('run');
    const N = 3000;
    appendEvents(join(logs, 'a.log'), 0, N / 2);
    appendEvents(join(logs, 'b.log'), N / 2, N / 2);
    const sluice = start(
      'run',
      dir,
      'run',
      runYaml({
        dataDir: join(dir, 'data'),
        logGlob: join(logs, '*.log'),
        api: { address: '127.0.0.1:0', token: '${SLUICE_API_TOKEN}' },
      }),
    );
    const api = await sluice.api();
    await waitFor('every event written by the sink and counted', async () => {
      const { families } = await scrape(api);
      return value(families, 'sluice_component_sent_events_total', { component: 'channel' }) >= N;
    });
    const { text, families } = await scrape(api);
    const series = (component: string, kind: string, type: string) => {
      const labels = { component, kind, type };
      return [
        value(families, 'sluice_component_received_events_total', labels),
        value(families, 'sluice_component_sent_events_total', labels),
        value(families, 'sluice_component_received_bytes_total', labels),
        value(families, 'sluice_component_sent_bytes_total', labels),
        value(families, 'sluice_component_errors_total', labels),
        value(families, 'sluice_component_discarded_events_total', labels),
      ];
    };
    const exact = [N, N, N * MESSAGE_BYTES, N * MESSAGE_BYTES, 0, 0];
    expect(series('sources.app', 'source', 'file')).toEqual(exact);
    expect(series('channel', 'channel', 'disk')).toEqual(exact);
    expect(series('bus', 'bus', 'embedded')).toEqual(exact);
    expect(series('routes', 'router', 'rules')).toEqual(exact);
    expect(series('sinks.out', 'sink', 'console')).toEqual(exact);
    // The same figure as Prometheus reads it, line for line.
    expect(text).toContain(`sluice_component_sent_events_total{component="sinks.out",kind="sink",type="console"} ${N}\n`);
    const latencyCount = value(families, 'sluice_delivery_latency_seconds_count', {
      component: 'sinks.out',
      since: 'source_read',
    });
    expect(latencyCount).toBeGreaterThan(0);
    expect(latencyCount).toBeLessThanOrEqual(N);
    expect(value(families, 'sluice_config_reloads_total', {})).toBe(0);
    expect(lossAndDuplicates(tally([sluice.stdoutFile]), N)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });

    const r = await ready(api);
    expect(r.status).toBe(200);
    expect(r.body.components.map((c) => [c.component, c.state])).toEqual(
      expect.arrayContaining([
        ['sources.app', 'running'],
        ['channel', 'running'],
        ['bus', 'running'],
        ['routes', 'running'],
        ['sinks.out', 'running'],
      ]),
    );

    // top --once: one snapshot of every component, then exit 0.
    const top = spawnSync(process.execPath, [CLI, 'top', '--once', '--api', api.url.origin], { encoding: 'utf8', timeout: 30_000 });
    expect(top.stderr).toBe('');
    expect(top.status).toBe(0);
    const lines = top.stdout.split('\n');
    expect(lines[0]).toMatch(/^sluice top — http:\/\/127\.0\.0\.1:\d+ \(run\) — up \d+:\d\d:\d\d — ready — /);
    expect(lines[2]).toMatch(/^COMPONENT\s+KIND\s+TYPE\s+STATE\s+IN\/s\s+OUT\/s\s+BYTES IN\/s\s+BYTES OUT\/s\s+ERRORS\s+DETAIL$/);
    expect(lines.slice(3, 8).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['sources.app', 'source', 'file', 'running'],
      ['channel', 'channel', 'disk', 'running'],
      ['bus', 'bus', 'embedded', 'running'],
      ['routes', 'router', 'rules', 'running'],
      ['sinks.out', 'sink', 'console', 'running'],
    ]);

    // tap --limit: the next 5 events leaving the source, then exit 0.
    const tapped = await tapWhile<{ v: number; message: string; service: string }>(api, 'sources.app', 5, () =>
      appendEvents(join(logs, 'a.log'), N, 100),
    );
    expect(tapped).toHaveLength(5);
    for (const t of tapped) {
      expect(t.component).toBe('sources.app');
      expect(t.event).toMatchObject({ v: 1, service: 'shop', message: expect.stringMatching(/^ev-\d+ x+$/) });
    }
    expect(await sluice.stop()).toBe(0);
  });

  it('agent → Kafka → collector: the bus counts on both sides and the consumer lag drains to 0', async () => {
    const N = 2000;
    const { agent, collector } = kafkaPair('metrics', N);
    const agentApi = await agent.api();
    const collectorApi = await collector.api();
    await waitFor(
      `${N} events at the collector`,
      async () => value((await scrape(collectorApi)).families, 'sluice_component_sent_events_total', { component: 'sinks.out' }) >= N,
      120_000,
      () => collector.log().slice(-2000),
    );
    const a = (await scrape(agentApi)).families;
    const c = (await scrape(collectorApi)).families;
    const bus = { component: 'bus', kind: 'bus', type: 'kafka' };
    expect(value(a, 'sluice_component_sent_events_total', { component: 'sources.app' })).toBe(N);
    expect(value(a, 'sluice_component_sent_events_total', bus)).toBe(N);
    expect(value(a, 'sluice_component_received_bytes_total', bus)).toBe(N * MESSAGE_BYTES);
    expect(value(a, 'sluice_delivery_latency_seconds_count', { ...bus, since: 'source_read' })).toBeGreaterThan(0);
    expect(value(c, 'sluice_component_received_events_total', bus)).toBe(N);
    expect(value(c, 'sluice_component_sent_events_total', { component: 'routes' })).toBe(N);
    expect(value(c, 'sluice_component_received_events_total', { component: 'sinks.out' })).toBe(N);
    expect(value(c, 'sluice_component_errors_total', {})).toBe(0);
    expect(value(c, 'sluice_delivery_latency_seconds_count', { component: 'sinks.out', since: 'bus_receive' })).toBeGreaterThan(0);
    await lagDrained(collectorApi);
    expect((await ready(agentApi)).status).toBe(200);
    expect((await ready(collectorApi)).status).toBe(200);
    expect(lossAndDuplicates(tally([collector.stdoutFile]), N)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
  });
});

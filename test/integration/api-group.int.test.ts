// `sluice collector --workers 2` behind one API: its supervisor answers /metrics, /ready,
// /tap, /reload and SIGHUP for both workers, against the real broker, including a worker
// killed and restarted.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../../api/client.js';
import type { ProbeAnswer } from '../../api/readiness.js';
import { waitFor } from '../support/index.js';
import { apiWorkspace, lagDrained, ready, scrape, TOKEN, tapWhile, value } from './api-harness.js';
import { appendEvents, CLI, lossAndDuplicates, tally } from './bus-harness.js';

const { kafkaPair } = apiWorkspace('sluice-api-group-');

interface About {
  role: string;
  pid: number;
  workers: { worker: number; pid: number; state: string; restarts: number }[];
}

describe('one api for a collector with --workers 2 (built CLI)', () => {
  it('counts both workers, merges their components, taps and reloads both, and reports a worker killed', async () => {
    const N = 2000;
    const { dir, logs, agent, collector } = kafkaPair('group', N, 2);
    const api = await collector.api();

    // The supervisor's api, the only one: the workers answer it over IPC.
    const about = async () => JSON.parse((await call(api, '/')).body) as About;
    await waitFor('both workers running', async () => (await about()).workers.every((w) => w.state === 'running'), 60_000);
    const first = await about();
    expect(first.role).toBe('collector');
    expect(first.workers.map((w) => w.worker)).toEqual([0, 1]);
    expect(new Set([first.pid, ...first.workers.map((w) => w.pid)]).size).toBe(3);
    const listening = collector
      .log()
      .split('\n')
      .filter((l) => l.includes('"api listening"'));
    expect(listening).toHaveLength(1);
    expect(JSON.parse(listening[0]!)).not.toHaveProperty('worker');

    await waitFor(
      `${N} events at the collector`,
      async () => value((await scrape(api)).families, 'sluice_component_sent_events_total', { component: 'sinks.out' }) >= N,
      120_000,
      () => collector.log().slice(-2000),
    );
    const c = (await scrape(api)).families;
    const bus = { component: 'bus', kind: 'bus', type: 'kafka' };
    // Summed over the workers, exactly the load: no worker missing, none counted twice.
    expect(value(c, 'sluice_component_received_events_total', bus)).toBe(N);
    expect(value(c, 'sluice_component_sent_events_total', { component: 'routes' })).toBe(N);
    expect(value(c, 'sluice_component_sent_events_total', { component: 'sinks.out' })).toBe(N);
    expect(value(c, 'sluice_component_errors_total', {})).toBe(0);
    expect(value(c, 'sluice_collector_workers', { state: 'running' })).toBe(2);
    expect(value(c, 'sluice_collector_worker_restarts_total', {})).toBe(0);
    // Measured by the first worker only, so not doubled by the merge.
    await lagDrained(api);

    const r = await ready(api);
    expect(r.status).toBe(200);
    const sink = r.body.components.find((x) => x.component === 'sinks.out') as ProbeAnswer['components'][number] & {
      workers: Record<string, string>;
    };
    expect(sink).toMatchObject({ state: 'running', ready: true, workers: { 0: 'running', 1: 'running' } });
    expect(r.body.components.filter((x) => x.component === 'bus')).toHaveLength(1);
    // top shows the group as one collector: one row per component.
    const top = spawnSync(process.execPath, [CLI, 'top', '--once', '--api', api.url.origin], { encoding: 'utf8', timeout: 30_000 });
    expect(top.stderr).toBe('');
    expect(top.status).toBe(0);
    expect(top.stdout.split('\n')[0]).toMatch(/\(collector, 2 workers\) — up \d+:\d\d:\d\d — ready — /);
    expect(top.stdout.split('\n').filter((l) => l.startsWith('sinks.out '))).toHaveLength(1);

    // A tap over both workers, ended by the supervisor at the limit.
    const tapped = await tapWhile<{ message: string }>(api, 'routes.*', 5, () => appendEvents(join(logs, 'a.log'), N, 100));
    expect(tapped).toHaveLength(5);
    for (const t of tapped) expect(t.event.message).toMatch(/^ev-\d+ x+$/);
    // A name no tap point matches: the workers' 400, with the tap points.
    const unknown = await call({ ...api, token: TOKEN }, '/tap?component=sinks.nope');
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toMatchObject({ tap_points: expect.arrayContaining(['routes.default']) });
    await waitFor(`${N + 100} events at the collector`, async () => {
      const f = (await scrape(api)).families;
      return value(f, 'sluice_component_sent_events_total', { component: 'sinks.out' }) === N + 100;
    });

    // POST /reload reloads both workers; SIGHUP to the supervisor too (it used to end the group).
    const configFile = join(dir, 'collector.yaml');
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('level: info', 'level: debug'));
    const reload = await call({ ...api, token: TOKEN }, '/reload', 'POST');
    expect(reload.status).toBe(200);
    expect(JSON.parse(reload.body)).toMatchObject({ result: 'applied', changes: ['log.level info → debug'] });
    const reloadedLines = () =>
      collector
        .log()
        .split('\n')
        .filter((l) => l.includes('"config reloaded"')).length;
    expect(reloadedLines()).toBe(2);
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('level: debug', 'level: info'));
    collector.child.kill('SIGHUP');
    await waitFor('both workers to reload on SIGHUP', () => reloadedLines() === 4);
    expect(collector.running).toBe(true);

    // A worker killed: not ready while it is restarted, counted, then ready again.
    process.kill(first.workers[1]!.pid, 'SIGKILL');
    await waitFor('/ready to say worker 1 is gone', async () => {
      const answer = await ready(api);
      return answer.status === 503 && answer.body.reasons.some((x) => /^worker 1 (is restarting|exited)/.test(x));
    });
    await waitFor('worker 1 restarted and the group ready', async () => (await ready(api)).status === 200, 60_000);
    const after = await about();
    expect(after.workers[1]).toMatchObject({ state: 'running', restarts: 1 });
    expect(after.workers[1]!.pid).not.toBe(first.workers[1]!.pid);
    const afterKill = (await scrape(api)).families;
    expect(value(afterKill, 'sluice_collector_worker_restarts_total', {})).toBe(1);
    // What the killed worker counted stays in the group's counters: they never go down.
    expect(value(afterKill, 'sluice_component_sent_events_total', { component: 'sinks.out' })).toBe(N + 100);

    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    expect(lossAndDuplicates(tally([collector.stdoutFile]), N + 100)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
  });
});

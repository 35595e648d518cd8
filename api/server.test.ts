import { afterEach, describe, expect, it } from 'vitest';
import { apiSection } from '../config/api.js';
import { silentLogger } from '../core/log.js';
import { makeEvents } from '../test/support/index.js';
import { call, stream, type ApiTarget } from './client.js';
import { Readiness } from './readiness.js';
import { startApiServer, type ApiServer, type ReloadOutcome } from './server.js';
import { Taps } from './tap.js';

const TOKEN = 'test-token-0123456789abcdef';
let server: ApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(api: Record<string, unknown>, reload: () => Promise<ReloadOutcome> = async () => unchanged) {
  const readiness = new Readiness(30_000);
  const taps = new Taps();
  server = await startApiServer(
    apiSection.parse({ address: '127.0.0.1:0', ...api }),
    {
      probes: readiness,
      taps,
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'up 1\n' }),
      reload,
      about: { name: 'sluice', role: 'test' },
    },
    silentLogger(),
  );
  const target: ApiTarget = { url: new URL(server!.url) };
  return { readiness, taps, target };
}

const unchanged: ReloadOutcome = { result: 'unchanged', changes: [], problems: [] };

describe('api server', () => {
  it('is not started when disabled', async () => {
    expect(await startApiServer(apiSection.parse({ enabled: false }), {} as never, silentLogger())).toBeUndefined();
  });

  it('serves metrics, health and readiness (503 with reasons until ready), and says what it does not serve', async () => {
    const { readiness, target } = await start({});
    expect(server!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await call(target, '/metrics')).toEqual({ status: 200, body: 'up 1\n' });
    const notReady = await call(target, '/ready');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toMatchObject({ status: 'not ready', reasons: ['the pipeline is starting'] });
    readiness.pipelineRunning();
    expect((await call(target, '/ready')).status).toBe(200);
    expect(JSON.parse((await call(target, '/health')).body)).toMatchObject({ status: 'ok', components: [] });
    expect(await call(target, '/nope')).toMatchObject({ status: 404 });
    expect(await call(target, '/reload', 'GET')).toMatchObject({ status: 405 });
  });

  it.each([
    [{ result: 'applied', changes: ['routes changed'], problems: [] }, 200],
    [{ result: 'invalid', changes: [], problems: ['p.yaml:3:5: sinks.x.type: unknown sink type'] }, 400],
    [{ result: 'restart_needed', changes: [], problems: ['channel: …'] }, 409],
    [{ result: 'failed', changes: [], problems: [], error: 'sinks.es: could not open' }, 500],
  ] as [ReloadOutcome, number][])('POST /reload answers %j with %i', async (outcome, status) => {
    const { target } = await start({}, async () => outcome);
    const answer = await call(target, '/reload', 'POST');
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body)).toEqual(outcome);
  });

  it('with a token, /reload and /tap need it; /metrics and the probes never do', async () => {
    let reloads = 0;
    const { target } = await start({ token: TOKEN }, async () => {
      reloads++;
      return unchanged;
    });
    expect((await call(target, '/reload', 'POST')).status).toBe(401);
    expect((await call({ ...target, token: 'wrong-token-0123456789abc' }, '/reload', 'POST')).status).toBe(401);
    expect((await call(target, '/tap')).status).toBe(401);
    expect(reloads).toBe(0);
    expect((await call({ ...target, token: TOKEN }, '/reload', 'POST')).status).toBe(200);
    expect(reloads).toBe(1);
    expect((await call(target, '/metrics')).status).toBe(200);
    expect((await call(target, '/health')).status).toBe(200);
  });

  it('beyond loopback without a token, /reload and /tap are off', async () => {
    const { target } = await start({ address: '0.0.0.0:0' });
    const t = { ...target, url: new URL(`http://127.0.0.1:${target.url.port}`) };
    const refused = await call(t, '/reload', 'POST');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toContain('api.token');
    expect((await call(t, '/metrics')).status).toBe(200);
  });

  it('a taken port is a one-line error naming the address and the way out', async () => {
    const { target } = await start({});
    const first = server;
    await expect(
      startApiServer(apiSection.parse({ address: `127.0.0.1:${target.url.port}` }), {} as never, silentLogger()),
    ).rejects.toThrow(`api: cannot listen on 127.0.0.1:${target.url.port}: the address is in use`);
    server = first;
  });

  it('streams tapped events as NDJSON until the limit, and refuses an unknown tap point with the list', async () => {
    const { taps, target } = await start({});
    taps.declare('sources.app');
    const bad = await call(target, '/tap?component=sources.nope');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ tap_points: ['sources.app'] });
    const lines: string[] = [];
    const done = stream(target, '/tap?component=sources.app&limit=3', (l) => lines.push(l), new AbortController().signal);
    while (!taps.listening('sources.app')) await new Promise((r) => setTimeout(r, 5));
    taps.publish('sources.app', makeEvents(5));
    expect(await done).toMatchObject({ status: 200 });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { tap: { components: ['sources.app'], rate: 100, limit: 3 } },
      ...['e0', 'e1', 'e2'].map((id) => ({ component: 'sources.app', event: expect.objectContaining({ v: 1, id }) })),
    ]);
    expect(taps.listening('sources.app')).toBe(false);
  });
});

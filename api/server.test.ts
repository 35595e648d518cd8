import { type IncomingMessage, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { apiSection } from '../config/api.js';
import type { LogEvent } from '../core/event.js';
import { type Logger, silentLogger } from '../core/log.js';
import { captureLogger, makeEvent, makeEvents, waitFor } from '../test/support/index.js';
import { type Answer, call, stream, type ApiTarget } from './client.js';
import { Readiness } from './readiness.js';
import { startApiServer, type ApiServer, type ReloadOutcome } from './server.js';
import { Taps } from './tap.js';

const TOKEN = 'test-token-0123456789abcdef';
let server: ApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(
  api: Record<string, unknown>,
  reload: () => Promise<ReloadOutcome> = async () => unchanged,
  logger: Logger = silentLogger(),
) {
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
    logger,
  );
  const target: ApiTarget = { url: new URL(server!.url) };
  return { readiness, taps, target };
}

const unchanged: ReloadOutcome = { result: 'unchanged', changes: [], problems: [] };

/** A request with the headers a browser (or anything else) would send: client.ts sends its own Host and no Origin. */
function ask(target: ApiTarget, path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, target.url), { method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The body of a JSON error answer, as the server writes it. */
function errorBody(error: string, more: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ error, ...more }, null, 2)}\n`;
}

/** Opens a tap and waits for its first line; aborting `stop` closes it. */
async function openTap(target: ApiTarget, path: string): Promise<{ lines: string[]; stop: AbortController; done: Promise<Answer> }> {
  const lines: string[] = [];
  const stop = new AbortController();
  const done = stream(target, path, (l) => lines.push(l), stop.signal);
  await waitFor(`${path} to open`, () => lines.length > 0);
  return { lines, stop, done };
}

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
  it('caps the taps open at once: one more is a 429 naming api.max_taps, logged once a minute; a closed one frees its place', async () => {
    const log = captureLogger();
    const { taps, target } = await start({ max_taps: 2 }, undefined, log.logger);
    taps.declare('sources.a');
    taps.declare('sources.b');
    const a = await openTap(target, '/tap?component=sources.a');
    const b = await openTap(target, '/tap?component=sources.b');
    const full = {
      status: 429,
      body: errorBody('too many taps: 2 are open, the most api.max_taps allows; close one, or raise api.max_taps', { max_taps: 2 }),
    };
    expect(await call(target, '/tap?component=sources.a')).toEqual(full);
    expect(await call(target, '/tap?component=sources.b')).toEqual(full);
    expect(log.lines.filter((l) => l.msg === 'tap refused: api.max_taps are open')).toEqual([
      expect.objectContaining({ level: 40, max_taps: 2, refused_since_last: 0, remote: '127.0.0.1' }),
    ]);
    a.stop.abort();
    await a.done;
    await waitFor('the closed tap to be gone', () => !taps.listening('sources.a'));
    const c = await openTap(target, '/tap?component=sources.a');
    expect(JSON.parse(c.lines[0]!)).toEqual({ tap: { components: ['sources.a'], rate: 100, limit: null } });
    expect((await call(target, '/tap?component=sources.a')).status).toBe(429);
    // A tap refused for a bad name, and one ended at its limit, give their place back.
    c.stop.abort();
    await c.done;
    await waitFor('the closed tap to be gone', () => !taps.listening('sources.a'));
    for (let i = 0; i < 3; i++) expect((await call(target, '/tap?component=sources.nope')).status).toBe(400);
    const limited = await openTap(target, '/tap?component=sources.a&limit=1');
    taps.publish('sources.a', makeEvents(1));
    await limited.done;
    await waitFor('the ended tap to be gone', () => !taps.listening('sources.a'));
    await openTap(target, '/tap?component=sources.a');
    expect((await call(target, '/tap?component=sources.a')).status).toBe(429);
    b.stop.abort();
  });

  it('a reader that keeps up misses nothing of a batch larger than the response buffers within one turn', async () => {
    const { taps, target } = await start({});
    taps.declare('sources.app');
    const tap = await openTap(target, '/tap?component=sources.app&rate=10000');
    // 200 events of 1 KiB in one call: about 200 KiB, far over Node's 16 KiB high-water mark.
    taps.publish('sources.app', makeEvents(200, { message: 'x'.repeat(1024) }));
    await waitFor(
      'the 200 lines',
      () => tap.lines.length > 200,
      20_000,
      () =>
        tap.lines
          .slice(1)
          .filter((l) => !l.includes('"event"'))
          .join(', '),
    );
    expect(tap.lines.slice(1).map((l) => (JSON.parse(l) as { event: LogEvent }).event.id)).toEqual(makeEvents(200).map((e) => e.id));
    tap.stop.abort();
  });

  it('a reader that stops reading is skipped while the pipeline publishes on, and told exactly what it missed once it reads again', async () => {
    const { taps, target } = await start({});
    taps.declare('sources.app');
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      request(new URL('/tap?component=sources.app&rate=10000', target.url), resolve).on('error', reject).end(),
    );
    res.pause();
    await waitFor('the tap to open', () => taps.listening('sources.app'));
    // 40 batches of 100 events of 16 KiB: 64 MiB, far more than loopback's socket buffers hold.
    const message = 'x'.repeat(16 * 1024);
    const reads: number[] = [];
    for (let b = 0; b < 40; b++) {
      let read = 0;
      const batch = Array.from({ length: 100 }, (_, i) => makeEvent({ id: String(b * 100 + i), message }));
      const counted = new Proxy(batch, {
        get(t, k, r) {
          if (typeof k === 'string' && /^\d+$/.test(k)) read++;
          return Reflect.get(t, k, r) as unknown;
        },
      });
      taps.publish('sources.app', counted);
      reads.push(read);
      // The pipeline's next batch comes in a later turn of the event loop, when the socket may take more.
      await new Promise((r) => setImmediate(r));
    }
    // Once behind, a batch costs the pipeline nothing per event: none of it is even read.
    expect(reads.slice(-10)).toEqual(Array(10).fill(0));
    const seen: ({ shown: number } | { told: number })[] = [];
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = JSON.parse(pending.slice(0, nl)) as { event?: LogEvent; dropped?: number; tap?: unknown };
        pending = pending.slice(nl + 1);
        if (line.event) seen.push({ shown: Number(line.event.id) });
        else if (line.dropped !== undefined) seen.push({ told: line.dropped });
        else if (!line.tap) throw new Error(`unexpected tap line ${JSON.stringify(line)}`);
      }
    });
    res.resume();
    // Told as soon as it caught up, with no event after to carry the count.
    const accounted = () => seen.reduce((n, s) => n + ('shown' in s ? 1 : s.told), 0);
    await waitFor(
      'every event shown or told as missed',
      () => accounted() === 4000,
      20_000,
      () => `${accounted()} of 4000`,
    );
    // In order, each gap exactly as long as the notice right after it says.
    let next = 0;
    for (const s of seen) {
      if ('told' in s) next += s.told;
      else expect(s.shown).toBe(next++);
    }
    expect(next).toBe(4000);
    expect(seen.filter((s) => 'told' in s).length).toBeGreaterThan(0);
    res.destroy();
  });

  describe('without a token on loopback, only this machine, not a web page, may use it', () => {
    it('refuses with 421 a request addressed to another name (DNS rebinding), on every endpoint', async () => {
      let reloads = 0;
      const { target } = await start({}, async () => {
        reloads++;
        return unchanged;
      });
      const port = target.url.port;
      for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.attacker.example:${port}`, `localhost:${port}@x`]) {
        const error = `the api without api.token answers only requests addressed to this machine (localhost, 127.0.0.1 or [::1]), not to ${JSON.stringify(host)}: a web page may be reaching it through DNS rebinding; use http://127.0.0.1:<port>, or set api.token to allow any name`;
        expect(await ask(target, '/metrics', { headers: { host } })).toEqual({ status: 421, body: errorBody(error) });
        expect(await ask(target, '/tap', { headers: { host } })).toEqual({ status: 421, body: errorBody(error) });
        expect((await ask(target, '/reload', { method: 'POST', headers: { host } })).status).toBe(421);
      }
      expect(reloads).toBe(0);
      for (const host of [`localhost:${port}`, `LocalHost:${port}`, 'localhost', `127.0.0.1:${port}`, `127.4.5.6:${port}`, `[::1]:${port}`])
        expect(await ask(target, '/metrics', { headers: { host } })).toEqual({ status: 200, body: 'up 1\n' });
    });

    it('refuses with 403 a request from a web page of another site (a cross-site POST /reload), takes one from a loopback page', async () => {
      let reloads = 0;
      const { target } = await start({}, async () => {
        reloads++;
        return unchanged;
      });
      for (const origin of ['https://attacker.example', 'http://127.0.0.1.attacker.example:8686', 'null', 'file://']) {
        expect(await ask(target, '/reload', { method: 'POST', headers: { origin } })).toEqual({
          status: 403,
          body: errorBody(
            `the api without api.token refuses requests from web pages of other sites (Origin ${JSON.stringify(origin)}); set api.token to use it from a browser`,
          ),
        });
      }
      expect(reloads).toBe(0);
      for (const origin of ['http://localhost:3000', 'http://127.0.0.1:8080', 'https://[::1]'])
        expect((await ask(target, '/reload', { method: 'POST', headers: { origin } })).status).toBe(200);
      expect(reloads).toBe(3);
      expect((await ask(target, '/reload', { method: 'POST' })).status).toBe(200);
      // A cross-site GET without Origin (an <img> on a page) is marked by the browser.
      expect(await ask(target, '/tap', { headers: { 'sec-fetch-site': 'cross-site' } })).toEqual({
        status: 403,
        body: errorBody(
          'the api without api.token refuses requests from web pages of other sites (Sec-Fetch-Site "cross-site"); set api.token to use it from a browser',
        ),
      });
      expect((await ask(target, '/reload', { method: 'POST', headers: { 'sec-fetch-site': 'none' } })).status).toBe(200);
    });

    it('with a token, any name and any page may ask: the token is what a page cannot have', async () => {
      const { target } = await start({ token: TOKEN });
      const headers = { host: 'sluice.internal.example:8686', origin: 'https://dashboard.example' };
      expect((await ask(target, '/reload', { method: 'POST', headers: { ...headers, authorization: `Bearer ${TOKEN}` } })).status).toBe(
        200,
      );
      expect((await ask(target, '/reload', { method: 'POST', headers })).status).toBe(401);
      expect((await ask(target, '/metrics', { headers })).status).toBe(200);
    });

    it('beyond loopback without a token, probes and scrapers reach it by any name (/reload and /tap are off anyway)', async () => {
      const { target } = await start({ address: '0.0.0.0:0' });
      const t = { ...target, url: new URL(`http://127.0.0.1:${target.url.port}`) };
      expect((await ask(t, '/health', { headers: { host: `10.0.0.7:${target.url.port}` } })).status).toBe(200);
      expect((await ask(t, '/reload', { method: 'POST', headers: { host: `10.0.0.7:${target.url.port}` } })).status).toBe(403);
    });
  });
});

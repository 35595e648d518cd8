import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/log.js';
import { loadTls } from '../core/options/tls.js';
import { isLoopback, parseAddress, type ApiConfig } from '../config/api.js';
import { authorize, checkBrowser, type AuthPolicy } from './auth.js';
import type { ProbeAnswer } from './readiness.js';
import { TapRequestError, type TapService, type TapSubscription } from './tap.js';

/**
 * The HTTP API (api/README.md):
 *
 *   GET  /metrics  Prometheus text format
 *   GET  /health   liveness, JSON with every component's state (200, or 503 when one crashed)
 *   GET  /ready    readiness, same JSON (200, or 503 with the reasons)
 *   POST /reload   re-read the config and apply what changed (token)
 *   GET  /tap      NDJSON stream of sampled events leaving components (token)
 */
export interface ReloadOutcome {
  /**
   * applied: the new config runs; unchanged: nothing to do; invalid: the file has errors;
   * restart_needed: valid, but changes something that cannot change in a running process;
   * failed: valid, but building or starting a new component failed. In every case but
   * `applied`, the pipeline that ran before runs on, untouched.
   */
  result: 'applied' | 'unchanged' | 'invalid' | 'restart_needed' | 'failed';
  /** What changed, one line each ("sources.web added", "routes changed"). */
  changes: string[];
  /** invalid: every problem with file:line:col; restart_needed: what cannot change in place. */
  problems: string[];
  /** failed: why. */
  error?: string;
}

export const RELOAD_STATUS: Record<ReloadOutcome['result'], number> = {
  applied: 200,
  unchanged: 200,
  invalid: 400,
  restart_needed: 409,
  failed: 500,
};

export interface ApiDeps {
  /** /health and /ready: a `Readiness`, or a collector's workers merged (api/group.ts). */
  probes: { health(): ProbeAnswer | Promise<ProbeAnswer>; readiness(): ProbeAnswer | Promise<ProbeAnswer> };
  taps: TapService;
  metrics: () => Promise<{ contentType: string; body: string }>;
  reload: () => Promise<ReloadOutcome>;
  /** Shown on GET /: the role and version. */
  about: Record<string, unknown>;
}

export interface ApiServer {
  /** Where it listens, with the port it got (port 0 in the config picks one). */
  readonly url: string;
  close(): Promise<void>;
}

/** Default and ceiling of events per second and component a tap sends. */
const TAP_DEFAULT_RATE = 100;
const TAP_MAX_RATE = 10_000;

/**
 * What a tap's reader may have waiting in this process before it is behind and misses
 * events. Not the response's high-water mark (16 KiB): Node corks a response within a tick,
 * so one batch of a few dozen events would pass that with a reader that keeps up.
 */
export const TAP_BUFFER_BYTES = 256 * 1024;

/** A refusal is logged at most this often, with the count since the last line. */
const REFUSAL_LOG_MS = 60_000;

/** What the server holds across requests. */
interface ServerState {
  policy: AuthPolicy;
  maxTaps: number;
  openTaps: number;
  refused: (reason: string, fields: Record<string, unknown>) => void;
}

/**
 * Starts the server, or returns undefined when `api.enabled` is false. A port that is taken
 * throws an Error naming the address and the way out.
 */
export async function startApiServer(config: ApiConfig, deps: ApiDeps, logger: Logger): Promise<ApiServer | undefined> {
  if (!config.enabled) return undefined;
  const address = parseAddress(config.address)!;
  const policy: AuthPolicy = { token: config.token, loopback: isLoopback(address.host) };
  if (!policy.loopback && config.token === undefined)
    logger.warn({ address: config.address }, 'api listens beyond loopback without a token: /reload and /tap are off');
  const state: ServerState = { policy, maxTaps: config.max_taps, openTaps: 0, refused: refusalLog(logger) };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res, deps, state, logger).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'api request failed');
      if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  };
  let server: Server;
  if (config.tls) {
    const tls = loadTls(config.tls, 'api');
    server = createHttpsServer(
      { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: tls.ca !== undefined },
      handler,
    );
  } else {
    server = createHttpServer(handler);
  }
  // Probes and scrapers keep connections alive; a request that does not arrive whole in
  // time is dropped rather than holding a socket.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'the address is in use (another Sluice on this machine?): set api.address, port 0 picks a free one'
          : err.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : err.code === 'EADDRNOTAVAIL'
              ? 'no such address on this machine'
              : err.message;
      reject(new Error(`api: cannot listen on ${config.address}: ${why}`));
    };
    server.once('error', failed);
    server.listen(address.port, address.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${bound.port}`;
  logger.info({ url, tls: config.tls !== undefined, token: config.token !== undefined }, 'api listening');
  return {
    url,
    close: async () => {
      deps.taps.closeAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * A client that opens taps in a loop, or a web page hammering the API, would write a
 * warning per request: one line per reason a minute, with how many since the last.
 */
function refusalLog(logger: Logger, now: () => number = Date.now): ServerState['refused'] {
  const last = new Map<string, { at: number; count: number }>();
  return (reason, fields) => {
    const seen = last.get(reason);
    const t = now();
    if (seen && t - seen.at < REFUSAL_LOG_MS) {
      seen.count++;
      return;
    }
    last.set(reason, { at: t, count: 0 });
    logger.warn({ ...fields, refused_since_last: seen?.count ?? 0 }, reason);
  };
}

async function route(req: IncomingMessage, res: ServerResponse, deps: ApiDeps, state: ServerState, logger: Logger): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://api');
  const method = req.method ?? 'GET';
  const browser = checkBrowser(state.policy, req.headers.host, req.headers.origin, firstValue(req.headers['sec-fetch-site']));
  if (!browser.ok) {
    state.refused('api request refused: not addressed to loopback, or from a web page of another site', {
      host: req.headers.host,
      origin: req.headers.origin,
      path: url.pathname,
      remote: req.socket.remoteAddress,
    });
    json(res, browser.status, { error: browser.error });
    return;
  }
  const allow = (methods: string[]): boolean => {
    if (methods.includes(method)) return true;
    res.setHeader('allow', methods.join(', '));
    json(res, 405, { error: `${method} is not allowed on ${url.pathname}; use ${methods.join(' or ')}` });
    return false;
  };
  const privileged = (): boolean => {
    const auth = authorize(state.policy, req.headers.authorization);
    if (auth.ok) return true;
    if (auth.status === 401) res.setHeader('www-authenticate', 'Bearer');
    json(res, auth.status, { error: auth.error });
    return false;
  };
  switch (url.pathname) {
    case '/':
      if (!allow(['GET', 'HEAD'])) return;
      json(res, 200, { ...deps.about, endpoints: ['/metrics', '/health', '/ready', '/reload', '/tap'] });
      return;
    case '/metrics': {
      if (!allow(['GET', 'HEAD'])) return;
      const { contentType, body } = await deps.metrics();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    case '/health': {
      if (!allow(['GET', 'HEAD'])) return;
      const answer = await deps.probes.health();
      json(res, answer.status === 'ok' ? 200 : 503, answer);
      return;
    }
    case '/ready': {
      if (!allow(['GET', 'HEAD'])) return;
      const answer = await deps.probes.readiness();
      json(res, answer.status === 'ok' ? 200 : 503, answer);
      return;
    }
    case '/reload': {
      if (!allow(['POST']) || !privileged()) return;
      const outcome = await deps.reload();
      json(res, RELOAD_STATUS[outcome.result], outcome);
      return;
    }
    case '/tap':
      if (!allow(['GET']) || !privileged()) return;
      await tap(req, res, url, deps, state, logger);
      return;
    default:
      json(res, 404, { error: `no such endpoint ${url.pathname}; endpoints: /metrics, /health, /ready, /reload, /tap` });
  }
}

async function tap(req: IncomingMessage, res: ServerResponse, url: URL, deps: ApiDeps, state: ServerState, logger: Logger): Promise<void> {
  const components = url.searchParams.getAll('component').flatMap((c) => c.split(',').filter(Boolean));
  const limit = positiveInt(url.searchParams.get('limit'));
  const rate = positiveInt(url.searchParams.get('rate'));
  if (limit === null || rate === null) {
    json(res, 400, { error: 'limit and rate must be positive integers' });
    return;
  }
  // Every tap costs the pipeline a share of each batch it listens to: a client opening
  // hundreds must not make that hundreds of shares.
  if (state.openTaps >= state.maxTaps) {
    state.refused('tap refused: api.max_taps are open', { max_taps: state.maxTaps, remote: req.socket.remoteAddress });
    json(res, 429, {
      error: `too many taps: ${state.maxTaps} are open, the most api.max_taps allows; close one, or raise api.max_taps`,
      max_taps: state.maxTaps,
    });
    return;
  }
  state.openTaps++;
  res.once('close', () => state.openTaps--);
  const effectiveRate = Math.min(rate ?? TAP_DEFAULT_RATE, TAP_MAX_RATE);
  // A collector's workers answer a subscription over IPC: events can arrive before it
  // resolves, and are held (within the same bound) until the status line and the tap's own
  // first line are out.
  let early: string[] | undefined = [];
  let earlyBytes = 0;
  let ended = false;
  let subscription: TapSubscription;
  try {
    subscription = await deps.taps.subscribe(
      { components, limit, rate: effectiveRate },
      {
        write: (line) => {
          if (!early) {
            res.write(line);
            return res.writableLength < TAP_BUFFER_BYTES;
          }
          early.push(line);
          earlyBytes += line.length;
          return earlyBytes < TAP_BUFFER_BYTES;
        },
        end: () => {
          ended = true;
          if (!early) res.end();
        },
      },
    );
  } catch (err) {
    if (err instanceof TapRequestError) {
      json(res, 400, { error: err.message, tap_points: err.tapPoints });
      return;
    }
    throw err;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const tapping = components.length > 0 ? components : ['*'];
  res.write(`${JSON.stringify({ tap: { components: tapping, rate: effectiveRate, limit: limit ?? null } })}\n`);
  for (const line of early) res.write(line);
  early = undefined;
  if (ended) res.end();
  // A write over the bound is one over the high-water mark too, so 'drain' follows it.
  res.on('drain', () => subscription.drained());
  res.on('close', () => subscription.close());
  if (res.destroyed) subscription.close();
  else if (res.writableLength < TAP_BUFFER_BYTES) subscription.drained();
  logger.debug({ components: tapping, rate: effectiveRate, limit, remote: req.socket.remoteAddress }, 'tap opened');
}

/** undefined when absent, null when not a positive integer. */
function positiveInt(text: string | null): number | undefined | null {
  if (text === null) return undefined;
  return /^[1-9]\d{0,8}$/.test(text) ? Number(text) : null;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** A header Node may give as a list when it was sent twice: the first. */
function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

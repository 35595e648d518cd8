import { Client, errors, type ClientOptions } from '@elastic/elasticsearch';
import { loadTls, type TlsOptions } from '../../core/options/tls.js';

/** What it takes to reach a node: shared by the sink and `sluice search`. */
export interface Connection {
  url: string | string[];
  username?: string;
  password?: string;
  api_key?: string;
  /** The `tls:` block of https URLs (absent: the system CAs, verified). */
  tls?: TlsOptions;
  request_timeout?: number;
  compression?: boolean;
}

/**
 * Builds a client whose credentials never reach a log line: user:password in a URL is
 * moved into the auth settings (the URL we print has none), and `redactor` scrubs the
 * secrets from any error text before it is logged or shown. TLS files are read here, so a
 * missing one is a one-line error naming `component` before anything starts.
 */
export function createClient(
  c: Connection,
  component = 'elasticsearch',
): { client: Client; urls: string[]; redact: (text: string) => string } {
  const secrets: string[] = [];
  let auth: ClientOptions['auth'];
  const urls = (Array.isArray(c.url) ? c.url : [c.url]).map((raw) => {
    const u = new URL(raw);
    if (u.username || u.password) {
      const username = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      secrets.push(u.password, password);
      if (!c.username && !c.api_key) auth = { username, password };
      u.username = '';
      u.password = '';
    }
    return u.toString().replace(/\/$/, '');
  });
  if (c.username !== undefined && c.password !== undefined) {
    auth = { username: c.username, password: c.password };
    secrets.push(c.password);
  }
  if (c.api_key) {
    auth = { apiKey: c.api_key };
    secrets.push(c.api_key);
  }
  const { rejectUnauthorized, ...files } = c.tls ? loadTls(c.tls, component) : { rejectUnauthorized: true };
  const client = new Client({
    nodes: urls,
    ...(auth ? { auth } : {}),
    tls: { ...files, rejectUnauthorized },
    // Sluice retries itself (per item, with backoff, forever); the client's own quick
    // retries would only multiply requests against a struggling node.
    maxRetries: 0,
    requestTimeout: c.request_timeout ?? 30_000,
    compression: c.compression ?? false,
    name: 'sluice',
  });
  const hidden = secrets.filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  const redact = (text: string) => {
    let out = text.replace(/(\/\/)[^/@\s]*:[^/@\s]*@/g, '$1');
    for (const s of hidden) out = out.split(s).join('***');
    return out;
  };
  return { client, urls, redact };
}

/** True for failures where the node may well answer later: connection trouble, 429, 5xx. */
export function isTransient(err: unknown): boolean {
  if (err instanceof errors.ResponseError) return err.statusCode === 429 || (err.statusCode ?? 0) >= 500;
  return err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError;
}

/** A short, secret-free description of a client error. */
export function describeError(err: unknown, redact: (text: string) => string): string {
  if (err instanceof errors.ResponseError) {
    const body = err.body as { error?: { type?: string; reason?: string } | string } | undefined;
    const e = body?.error;
    const detail = typeof e === 'string' ? e : e ? `${e.type ?? 'error'}: ${e.reason ?? ''}` : err.message;
    return redact(`HTTP ${err.statusCode}: ${detail}`);
  }
  if (err instanceof errors.NoLivingConnectionsError) return 'no Elasticsearch node is reachable';
  return redact(err instanceof Error ? err.message : String(err));
}

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * How `sluice top` and `sluice tap` talk to a running instance's API: plain node:http(s),
 * the token from $SLUICE_API_TOKEN (never on the command line, where ps shows it).
 */
export interface ApiTarget {
  url: URL;
  token?: string;
  /** PEM CA for an https API with its own CA. */
  ca?: Buffer;
  /** Where `ca` was read from, for the error that says the API's certificate is not signed by it. */
  caFile?: string;
  insecure?: boolean;
}

/** Nothing answered at the address: not running, wrong port, a firewall. */
export class ApiUnreachable extends Error {}

export const DEFAULT_API_URL = 'http://127.0.0.1:8686';

/** "127.0.0.1:8686" or "http(s)://host:port"; throws a one-line Error otherwise. */
export function apiUrl(text: string): URL {
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`--api: expected a URL such as http://127.0.0.1:8686, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`--api: expected an http:// or https:// URL, got ${JSON.stringify(text)}`);
  return url;
}

function open(target: ApiTarget, path: string, method: string, timeoutMs: number): Promise<IncomingMessage> {
  const url = new URL(path, target.url);
  const headers: Record<string, string> = {};
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const options = { method, headers, timeout: timeoutMs, ca: target.ca, rejectUnauthorized: !target.insecure };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, resolve);
    req.on('timeout', () => req.destroy(new ApiUnreachable(`no answer from ${target.url.origin} within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof ApiUnreachable) return reject(err);
      const why =
        err.code === 'ECONNREFUSED'
          ? 'connection refused (is Sluice running, with its api on this address?)'
          : err.code === 'ENOTFOUND'
            ? 'no such host'
            : err.code !== undefined && UNTRUSTED.has(err.code)
              ? untrusted(target, err)
              : err.message;
      reject(new ApiUnreachable(`cannot reach the Sluice api at ${target.url.origin}: ${why}`));
    });
    req.end();
  });
}

/** What Node's TLS says when it does not trust the server's certificate. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The certificate problem and the way out, in one line ("self-signed certificate" alone leaves a user guessing). */
function untrusted(target: ApiTarget, err: Error): string {
  const what = `its TLS certificate is not trusted (${err.message})`;
  if ((err as NodeJS.ErrnoException).code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `${what}: the certificate does not name ${target.url.hostname}; connect with a name it has`;
  if ((err as NodeJS.ErrnoException).code === 'CERT_HAS_EXPIRED' || (err as NodeJS.ErrnoException).code === 'CERT_NOT_YET_VALID')
    return `${what}: renew the api's certificate`;
  return target.caFile
    ? `${what}: it is not signed by the CA in ${target.caFile}`
    : `${what}: give the CA that signed it with --ca-file (or --insecure to skip the check)`;
}

export interface Answer {
  status: number;
  body: string;
}

export async function call(target: ApiTarget, path: string, method = 'GET', timeoutMs = 5000): Promise<Answer> {
  const res = await open(target, path, method, timeoutMs);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
}

/** The error message of a JSON error answer, or the start of the body. */
export function errorOf(answer: Answer): string {
  try {
    const parsed = JSON.parse(answer.body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: shown as it is
  }
  return `HTTP ${answer.status}: ${answer.body.slice(0, 200).trim()}`;
}

/**
 * Reads an NDJSON stream line by line until it ends or `signal` aborts. A non-200 answer
 * is returned as it is (its body read whole) without calling onLine.
 */
export async function stream(target: ApiTarget, path: string, onLine: (line: string) => void, signal: AbortSignal): Promise<Answer> {
  const res = await open(target, path, 'GET', 10_000);
  if (res.statusCode !== 200) {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
  }
  // The stream may be quiet for long: the connect timeout no longer applies.
  res.socket.setTimeout(0);
  const stop = () => res.destroy();
  signal.addEventListener('abort', stop, { once: true });
  let pending = '';
  try {
    for await (const chunk of res) {
      pending += (chunk as Buffer).toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line) onLine(line);
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    signal.removeEventListener('abort', stop);
  }
  return { status: 200, body: '' };
}

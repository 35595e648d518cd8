import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopback } from '../config/api.js';

/**
 * Who may use the endpoints that change or reveal what flows (POST /reload, GET /tap).
 * /metrics, /health and /ready are for scrapers and probes and never need a token.
 *
 * - api.token set: every privileged request carries `Authorization: Bearer <token>`.
 * - no token, bound to loopback: only this machine can connect; allowed.
 * - no token, bound beyond loopback: refused, saying how to enable them.
 */
export interface AuthPolicy {
  token?: string;
  loopback: boolean;
}

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403 | 421; error: string };

/**
 * Compares digests of equal length in constant time: neither the token's length nor the
 * position of the first wrong character shows in the response time.
 */
export function tokenMatches(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

export function authorize(policy: AuthPolicy, authorization: string | undefined): AuthResult {
  if (policy.token === undefined) {
    if (policy.loopback) return { ok: true };
    return {
      ok: false,
      status: 403,
      error: 'this endpoint is off: the api listens beyond loopback without api.token (set token: ${SLUICE_API_TOKEN})',
    };
  }
  const presented = bearerToken(authorization);
  if (presented === undefined || !tokenMatches(policy.token, presented))
    return { ok: false, status: 401, error: 'missing or wrong token: send Authorization: Bearer <api.token>' };
  return { ok: true };
}

/**
 * An API without a token trusts whoever can connect to loopback, and a web page in a browser
 * on this machine can: through DNS rebinding (attacker.example resolving to 127.0.0.1, the
 * page then reading /tap and posting /reload as same-origin requests, with the attacker's
 * name in Host), or by a cross-site request to 127.0.0.1 (a form's POST /reload, carrying
 * the page's Origin). So, without a token on loopback, every request must name this machine
 * in Host and, when it has an Origin, come from a loopback page, and when the browser says
 * where it comes from (Sec-Fetch-Site), from this site or none. A browser always sends
 * Host, and Origin on every cross-site POST and script request; the CLI and probes send a
 * loopback Host and no Origin. With a token, a page cannot know it: nothing is checked here.
 */
export function checkBrowser(
  policy: AuthPolicy,
  host: string | undefined,
  origin: string | undefined,
  fetchSite: string | undefined,
): AuthResult {
  if (policy.token !== undefined || !policy.loopback) return { ok: true };
  if (host !== undefined && !isLoopback(hostName(host)))
    return {
      ok: false,
      status: 421,
      error: `the api without api.token answers only requests addressed to this machine (localhost, 127.0.0.1 or [::1]), not to ${JSON.stringify(host)}: a web page may be reaching it through DNS rebinding; use http://127.0.0.1:<port>, or set api.token to allow any name`,
    };
  if (origin !== undefined && !loopbackOrigin(origin))
    return {
      ok: false,
      status: 403,
      error: `the api without api.token refuses requests from web pages of other sites (Origin ${JSON.stringify(origin)}); set api.token to use it from a browser`,
    };
  // A cross-site GET a page makes without reading the answer (<img src=…/tap>) carries no
  // Origin, but browsers mark it: it would hold a tap's place and cost the pipeline its share.
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none')
    return {
      ok: false,
      status: 403,
      error: `the api without api.token refuses requests from web pages of other sites (Sec-Fetch-Site ${JSON.stringify(fetchSite)}); set api.token to use it from a browser`,
    };
  return { ok: true };
}

/** The host of a Host header, without its port and IPv6 brackets, in lower case; the whole text when it is not host[:port]. */
function hostName(host: string): string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(host);
  return (m?.[1] ?? m?.[2] ?? host).toLowerCase();
}

/** An Origin of a page served from loopback: http(s)://localhost, 127.x.x.x or [::1], any port. `null` (a sandboxed or file: page) is not. */
function loopbackOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1'));
}

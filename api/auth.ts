import { createHash, timingSafeEqual } from 'node:crypto';

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

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; error: string };

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

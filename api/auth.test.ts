import { describe, expect, it } from 'vitest';
import { authorize, bearerToken, tokenMatches } from './auth.js';

describe('api auth', () => {
  it('compares tokens by value, whatever their lengths', () => {
    expect(tokenMatches('s3cret-token-0123456789', 's3cret-token-0123456789')).toBe(true);
    expect(tokenMatches('s3cret-token-0123456789', 's3cret-token-012345678')).toBe(false);
    expect(tokenMatches('s3cret-token-0123456789', '')).toBe(false);
  });

  it('reads the token of a Bearer header only', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('with a token: the right bearer passes, anything else is 401', () => {
    const policy = { token: 'a'.repeat(24), loopback: true };
    expect(authorize(policy, `Bearer ${'a'.repeat(24)}`)).toEqual({ ok: true });
    expect(authorize(policy, undefined)).toMatchObject({ ok: false, status: 401 });
    expect(authorize(policy, `Bearer ${'b'.repeat(24)}`)).toMatchObject({ ok: false, status: 401 });
  });

  it('without a token: open on loopback, refused (403, saying how) beyond it', () => {
    expect(authorize({ loopback: true }, undefined)).toEqual({ ok: true });
    const refused = authorize({ loopback: false }, 'Bearer whatever');
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(refused.ok || refused.error).toContain('api.token');
  });
});

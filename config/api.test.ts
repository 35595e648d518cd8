import { describe, expect, it } from 'vitest';
import { Registry } from '../core/registry.js';
import { isLoopback, parseAddress } from './api.js';
import { configProblems } from '../test/support/config.js';
import { parseConfig } from './load.js';

const registry = new Registry();
const problems = (yaml: string, env: NodeJS.ProcessEnv = {}) => configProblems(yaml, registry, env);

describe('api: section', () => {
  it('defaults to loopback port 8686, on, 30s of failing before not ready, 8 taps at once', () => {
    expect(parseConfig('data_dir: x\n', 'p.yaml', registry, {}).api).toEqual({
      enabled: true,
      address: '127.0.0.1:8686',
      ready_failing_after: 30_000,
      max_taps: 8,
    });
  });

  it('parses addresses and knows loopback', () => {
    expect(parseAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseAddress('[::1]:8686')).toEqual({ host: '::1', port: 8686 });
    expect(parseAddress('0.0.0.0:70000')).toBeUndefined();
    expect(parseAddress('8686')).toBeUndefined();
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '0.0.0.0', '::', '10.0.0.1'].map(isLoopback)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('reports a bad address, a duration without a unit and an unknown key, with line and column', () => {
    expect(problems('api:\n  address: localhost\n  ready_failing_after: 30\n  tokn: x\n')).toEqual([
      'p.yaml:2:12: api.address: expected host:port such as "127.0.0.1:8686", "[::1]:8686" or "0.0.0.0:8686" (port 0 picks a free one), got "localhost"',
      'p.yaml:3:24: api.ready_failing_after: expected a duration such as "500ms", "5s" or "7d", got 30 (a duration needs a unit: did you mean "30s" or "30ms"?)',
      'p.yaml:4:3: api.tokn: unknown key "tokn" (did you mean "token"?); allowed: address, enabled, max_taps, ready_failing_after, tls, token',
    ]);
  });

  it('takes the token from the environment and refuses one written in the file', () => {
    const token = 'from-the-env-0123456789';
    expect(parseConfig('api:\n  token: ${SLUICE_API_TOKEN}\n', 'p.yaml', registry, { SLUICE_API_TOKEN: token }).api.token).toBe(token);
    const literal =
      'p.yaml:2:10: api.token: api.token must come from the environment, not be written in the file (no default, no text around it): token: ${SLUICE_API_TOKEN}';
    expect(problems('api:\n  token: literal-token-0123456789\n')).toEqual([literal]);
    // Written in the file all the same: as a default, or behind an escaped reference.
    expect(problems('api:\n  token: ${SLUICE_API_TOKEN:-literal-token-0123456789}\n')).toEqual([literal]);
    expect(problems('api:\n  token: prefix-${T}\n', { T: 'from-the-env-0123456789' })).toEqual([literal]);
    expect(problems('api:\n  token: ${T}\n', { T: 'short' })).toEqual([
      'p.yaml:2:10: api.token: api.token must be at least 16 characters (e.g. `openssl rand -hex 24`)',
    ]);
  });

  it('an https api needs its certificate and key', () => {
    expect(problems('api:\n  tls: { ca_file: ca.pem }\n')).toEqual([
      'p.yaml:2:8: api.tls: an HTTPS api needs tls.cert_file and tls.key_file',
    ]);
  });
});

describe('api.token', () => {
  it('is never shown in an error, even one that quotes it', () => {
    const found = configProblems('api: { token: "${T}" }\nlog: { level: "${T}" }\n', registry, { T: 'tok3n-hidden-0123456789' });
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).not.toContain('tok3n-hidden-0123456789');
  });
});

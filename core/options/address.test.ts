import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { displayUrl, hostPort, httpUrl, parseHostPort } from './address.js';

const problem = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error?.issues.map((i) => i.message);

describe('hostPort', () => {
  const broker = hostPort({ defaultPort: 9092 });

  it('takes names, IPv4 and bracketed IPv6 with a port', () => {
    for (const ok of ['kafka-1:9092', '10.0.0.7:19092', '[::1]:9092', 'k.example.com:1'])
      expect(broker.safeParse(ok).success, ok).toBe(true);
    expect(parseHostPort('[fe80::1]:9093')).toEqual({ host: 'fe80::1', port: 9093 });
  });

  it('refuses a missing port with the default port as the fix', () => {
    expect(problem(broker, 'localhost')).toEqual([
      'expected host:port such as "kafka-1:9092", got "localhost": no port (did you mean "localhost:9092"?)',
    ]);
  });

  it('refuses a scheme, a bad port, bare IPv6 and spaces', () => {
    expect(problem(broker, 'kafka://k1:9092')).toEqual([
      'expected host:port such as "kafka-1:9092", got "kafka://k1:9092": no scheme (kafka://, http://): just host:port (did you mean "k1:9092"?)',
    ]);
    expect(problem(broker, 'k1:99999')?.[0]).toContain('port "99999" is not a number from 1 to 65535');
    expect(problem(broker, 'k1:0')?.[0]).toContain('port "0" is not a number from 1 to 65535');
    expect(problem(broker, '::1:9092')?.[0]).toContain('an IPv6 address goes in brackets');
    expect(problem(broker, ' k1:9092')?.[0]).toContain('no spaces around it');
  });
});

describe('httpUrl', () => {
  const url = httpUrl({ defaultPort: 9200 });

  it('takes http and https URLs, with a path prefix', () => {
    for (const ok of ['http://127.0.0.1:9200', 'https://es.example.com', 'https://proxy/es/'])
      expect(url.safeParse(ok).success, ok).toBe(true);
  });

  it('offers the scheme (and the usual port) when it is missing', () => {
    expect(problem(url, 'localhost:9200')).toEqual([
      'expected an http:// or https:// URL such as "http://127.0.0.1:9200", got "localhost:9200" (no scheme: did you mean "http://localhost:9200"?)',
    ]);
    expect(problem(url, 'es-1')?.[0]).toContain('(no scheme: did you mean "http://es-1:9200"?)');
    expect(problem(url, 'ftp://es-1')?.[0]).toContain('(scheme "ftp" is not http or https)');
  });

  it('never shows the credentials of a URL', () => {
    const message = problem(url, 'htp://elastic:s3cret@es-1:9200')?.[0] ?? '';
    expect(message).not.toContain('s3cret');
    expect(displayUrl('https://u:p@h:1/x')).toBe('https://h:1/x');
    // No scheme (a value from ${ES_URL}), or a password with a slash: still not shown.
    const bare = problem(url, 'elastic:Hunter2Secret@es.internal:9200')?.[0] ?? '';
    expect(bare).not.toContain('Hunter2Secret');
    expect(bare).toContain('got "es.internal:9200" (no scheme: did you mean "http://es.internal:9200"?)');
    expect(displayUrl('http://u:pa/ss@h:1')).toBe('http://h:1');
    expect(displayUrl('http://h:1/x')).toBe('http://h:1/x');
  });
});

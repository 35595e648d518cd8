import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { decodeEvent, encodeEvent } from '../../core/wire.js';
import { makeEvent } from '../../test/support/index.js';
import { PARSE_ERROR_FIELD } from '../transform.js';
import { GROK_PATTERNS } from './grok-patterns.js';
import { compileGrok } from './grok.js';
import { type ParseOptions, parseOptions } from './options.js';
import { MAX_JSON_DEPTH, ParseTransform } from './parse.js';

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

function parse(options: Record<string, unknown>, lines: string[], over: Partial<LogEvent> = {}): LogEvent[] {
  const o: ParseOptions = parseOptions.parse(options);
  const events = lines.map((message, i) => makeEvent({ id: `e${i}`, message, ...over, fields: { ...(over.fields ?? {}) } }));
  return new ParseTransform('p', o).apply(events);
}

describe('parse json', () => {
  it('merges every line of a JSON log into fields, keeping types and nesting, and takes the level', () => {
    const out = parse({ format: 'json' }, fixture('app.jsonl'));
    expect(out).toHaveLength(3);
    expect(out[0]!.fields).toEqual({
      time: '2024-03-01T12:00:00.123Z',
      level: 'info',
      msg: 'order placed',
      order_id: 1234,
      user: { id: 7, plan: 'pro' },
    });
    expect(out.map((e) => e.level)).toEqual(['info', 'warn', 'error']);
    expect(out[2]!.fields.err).toEqual({ type: 'Error', message: 'ECONNRESET' });
  });

  it('puts the result under a sub-key, and reads from a field', () => {
    const [e] = parse({ format: 'json', source: 'fields.payload', target: 'fields.body' }, ['x'], {
      fields: { payload: '{"a":1,"b":[true,null]}' },
    });
    expect(e!.fields.body).toEqual({ a: 1, b: [true, null] });
    expect(e!.message).toBe('x');
  });

  it('keeps and marks what is not a JSON object, never dropping it', () => {
    const out = parse({ format: 'json' }, ['not json', '[1,2]', '{"ok":true}']);
    expect(out).toHaveLength(3);
    expect(out[0]!.fields[PARSE_ERROR_FIELD]).toMatch(/^p: invalid JSON: /);
    expect(out[1]!.fields[PARSE_ERROR_FIELD]).toBe('p: expected a JSON object, got an array');
    expect(out[1]!.message).toBe('[1,2]');
    expect(out[2]!.fields).toEqual({ ok: true });
  });

  it('keeps and marks a line nested too deep to be encoded again, the event otherwise intact', () => {
    // 60 KB: JSON.parse takes it, JSON.stringify of the event overflows the stack.
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{"b":[1]}${'}'.repeat(levels - 1)}`;
    const out = parse({ format: 'json' }, [deep, nested(MAX_JSON_DEPTH)], { fields: { host: 'h1' } });
    expect(out[0]!.message).toBe(deep);
    expect(out[0]!.fields).toEqual({ host: 'h1', [PARSE_ERROR_FIELD]: 'p: nested deeper than 64 levels: not parsed' });
    expect(out[0]!.level).toBeUndefined();
    expect(JSON.parse(JSON.stringify(out[0]))).toEqual(out[0]);
    // The root object is the first level: 64 objects hold an array, the 65th level.
    expect(out[1]!.fields[PARSE_ERROR_FIELD]).toBe('p: nested deeper than 64 levels: not parsed');
    const shallower = parse({ format: 'json' }, [nested(MAX_JSON_DEPTH - 1)]);
    expect(shallower[0]!.fields[PARSE_ERROR_FIELD]).toBeUndefined();
    // Under a target, its levels count too: what is parsed always passes the wire's check.
    const under = parse({ format: 'json', target: 'fields.a.b' }, [nested(MAX_JSON_DEPTH - 2), nested(MAX_JSON_DEPTH - 3)]);
    expect(under[0]!.fields[PARSE_ERROR_FIELD]).toBe('p: nested deeper than 62 levels: not parsed');
    expect(under[1]!.fields[PARSE_ERROR_FIELD]).toBeUndefined();
    expect(decodeEvent(encodeEvent(under[1]!)).fields).toEqual(under[1]!.fields);
  });

  it('keeps a __proto__ key as a key, merged into fields the event already has', () => {
    const [e] = parse({ format: 'json' }, ['{"__proto__": {"x": 1}, "a": 2}'], { fields: { host: 'h1' } });
    expect(JSON.stringify(e!.fields)).toBe('{"host":"h1","__proto__":{"x":1},"a":2}');
    expect(Object.getPrototypeOf(e!.fields)).toBe(Object.prototype);
    expect('x' in e!.fields).toBe(false);
  });

  it('marks a missing source field', () => {
    const [e] = parse({ format: 'json', source: 'fields.payload' }, ['x']);
    expect(e!.fields[PARSE_ERROR_FIELD]).toBe('p: no fields.payload to parse');
  });

  it('leaves the level alone with level_keys: []', () => {
    const [e] = parse({ format: 'json', level_keys: [] }, ['{"level":"error"}']);
    expect(e!.level).toBeUndefined();
  });
});

describe('parse logfmt and key_value', () => {
  it('reads logfmt with quoted values, escapes and standalone keys', () => {
    const out = parse({ format: 'logfmt', types: { order_id: 'int' } }, fixture('app.logfmt'));
    expect(out[0]!.fields).toEqual({ time: '2024-03-01T12:00:00Z', level: 'info', msg: 'order placed', order_id: 1234, user: 'alice' });
    expect(out[1]!.fields).toEqual({
      time: '2024-03-01T12:00:01Z',
      level: 'error',
      msg: 'payment failed: "card declined"',
      order_id: 1235,
      retry: true,
    });
    expect(out.map((e) => e.level)).toEqual(['info', 'error', 'debug']);
  });

  it('reads key_value with configured separators and quotes', () => {
    const [e] = parse({ format: 'key_value', field_separator: ',', value_separator: ':' }, [
      "user: bob,  role: 'admin, ops', ok:true, flag",
    ]);
    expect(e!.fields).toEqual({ user: 'bob', role: 'admin, ops', ok: 'true', flag: true });
  });

  it('reads query strings, skipping standalone keys when asked', () => {
    const [e] = parse({ format: 'key_value', field_separator: '&', standalone_keys: false, types: { page: 'int' } }, [
      'q=shoes&page=2&debug&sort=price',
    ]);
    expect(e!.fields).toEqual({ q: 'shoes', page: 2, sort: 'price' });
  });

  it('marks a line without pairs', () => {
    const [e] = parse({ format: 'logfmt' }, ['just words here']);
    expect(e!.fields[PARSE_ERROR_FIELD]).toBe('p: no key=value pairs');
  });
});

describe('parse regex', () => {
  it('extracts named groups with types, trying patterns in order', () => {
    const out = parse(
      {
        format: 'regex',
        pattern: ['^(?<method>[A-Z]+) (?<path>\\S+) (?<status>\\d{3}) (?<ms>[\\d.]+)ms$', '^(?<word>\\w+)$'],
        types: { status: 'int', ms: 'float' },
      },
      ['GET /a 200 1.5ms', 'hello', 'no match here'],
    );
    expect(out[0]!.fields).toEqual({ method: 'GET', path: '/a', status: 200, ms: 1.5 });
    expect(out[1]!.fields).toEqual({ word: 'hello' });
    expect(out[2]!.fields).toEqual({ [PARSE_ERROR_FIELD]: 'p: none of the 2 patterns matches' });
  });

  it('reads values up to max_match_bytes, the same on both engines, and says when one is longer', () => {
    const out = parse({ format: 'regex', pattern: 'id=(?<id>\\d+)', max_match_bytes: '4KiB' }, [
      'id=7',
      `${'x'.repeat(2000)} id=8`,
      `${'x'.repeat(5000)} id=9`,
    ]);
    expect(out.map((e) => e.fields)).toEqual([
      { id: '7' },
      { id: '8' },
      { [PARSE_ERROR_FIELD]: 'p: longer than max_match_bytes (4096): not parsed' },
    ]);
  });

  it('takes RE2 syntax: inline flags work, lookarounds are config errors', () => {
    expect(parse({ format: 'regex', pattern: '(?i)^(?P<level>warn|error)' }, ['ERROR x'])[0]!.fields).toEqual({ level: 'ERROR' });
    expect(parseOptions.safeParse({ format: 'regex', pattern: '(?<=id=)(?<id>\\d+)' }).error?.issues[0]?.message).toMatch(
      /^invalid regular expression \/\(\?<=id=\)\(\?<id>\\d\+\)\/ \(RE2 syntax, which runs in linear time: no backreferences or lookarounds\)/,
    );
  });
});

describe('parse grok on real log formats', () => {
  it('nginx access (combined, IPv6, no bytes, binary junk, forwarded-for)', () => {
    const out = parse({ format: 'grok', pattern: '^%{NGINXACCESS}$' }, fixture('nginx-access.log'));
    expect(out.filter((e) => e.fields[PARSE_ERROR_FIELD] !== undefined)).toEqual([]);
    expect(out[0]!.fields).toEqual({
      client: '192.168.1.20',
      time: '01/Mar/2024:12:00:00 +0000',
      method: 'GET',
      path: '/api/v1/users/12345?expand=true',
      http_version: '1.1',
      status: 200,
      bytes: 2326,
      referrer: 'https://shop.example.com/start',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0',
    });
    expect(out[1]!.fields).toMatchObject({ user: 'alice', method: 'POST', status: 201 });
    expect(out[3]!.fields).toMatchObject({ client: '2001:db8::1', status: 304 });
    expect(out[3]!.fields.bytes).toBeUndefined();
    expect(out[4]!.fields).toMatchObject({ request: '\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03', status: 400 });
    expect(out[5]!.fields).toMatchObject({ status: 500, forwarded_for: '198.51.100.1, 10.0.0.2' });
  });

  it('apache access (common log format)', () => {
    const out = parse({ format: 'grok', pattern: '^%{COMMONAPACHELOG}$' }, fixture('apache-access.log'));
    expect(out.map((e) => [e.fields.client, e.fields.user, e.fields.status, e.fields.bytes])).toEqual([
      ['127.0.0.1', 'frank', 200, 2326],
      ['192.0.2.10', undefined, 404, 209],
      ['host-7.example.org', 'bob@example.org', 200, undefined],
    ]);
  });

  it('apache and nginx error logs, with their levels', () => {
    const apache = parse({ format: 'grok', pattern: '^%{HTTPD_ERRORLOG}$' }, fixture('apache-error.log'));
    expect(apache.filter((e) => e.fields[PARSE_ERROR_FIELD] !== undefined)).toEqual([]);
    expect(apache.map((e) => e.level)).toEqual(['info', 'error', 'error', 'error', 'info']);
    expect(apache[2]!.fields).toMatchObject({ client: '81.199.21.119', msg: 'Directory index forbidden by rule: /var/www/html/' });
    expect(apache[3]!.fields).toMatchObject({
      module: 'core',
      pid: 35708,
      client: '72.15.99.187',
      client_port: 52336,
      error_code: 'AH00126',
    });
    const nginx = parse({ format: 'grok', pattern: '^%{NGINX_ERRORLOG}$' }, fixture('nginx-error.log'));
    expect(nginx.map((e) => [e.level, e.fields.pid, e.fields.connection])).toEqual([
      ['error', 31, 1],
      ['warn', 31, 7],
      ['info', 1, undefined],
    ]);
    expect(nginx[0]!.fields.time).toBe('2024/03/01 12:00:00');
  });

  it('java log4j and logback layouts, Hadoop included', () => {
    const log4j = parse({ format: 'grok', pattern: '^%{LOG4J}$' }, fixture('log4j.log'));
    expect(log4j.map((e) => [e.fields.time, e.fields.thread, e.level, e.fields.logger])).toEqual([
      ['2024-03-01 12:00:00,123', 'main', 'info', 'com.acme.billing.Application'],
      ['2024-03-01 12:00:01,007', 'pool-2-thread-1', 'error', 'com.acme.billing.ChargeService'],
      ['2015-10-18 18:01:47,978', 'main', 'info', 'org.apache.hadoop.mapreduce.v2.app.MRAppMaster'],
      ['2015-10-18 18:01:48,963', 'RMCommunicator Allocator', 'warn', 'org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator'],
    ]);
    expect(log4j[1]!.fields.msg).toBe('charge failed for order 1234');
    const logback = parse({ format: 'grok', pattern: '^%{LOGBACK}$' }, fixture('logback.log'));
    expect(logback.map((e) => [e.level, e.fields.logger, e.fields.msg])).toEqual([
      ['debug', 'org.hibernate.SQL', 'select o.id from orders o where o.id=?'],
      ['warn', 'c.a.web.OrderController', 'slow request: 2317 ms'],
      ['error', 'com.acme.jobs.Cleanup', 'job failed'],
    ]);
    const spring = parse({ format: 'grok', pattern: '^%{SPRING_BOOT}$' }, fixture('spring-boot.log'));
    expect(spring.map((e) => [e.level, e.fields.pid, e.fields.thread, e.fields.app])).toEqual([
      ['info', 12345, 'main', undefined],
      ['warn', 12345, 'nio-8080-exec-1', 'shop'],
    ]);
  });

  it('syslog RFC 3164 and RFC 5424', () => {
    const bsd = parse({ format: 'grok', pattern: '^%{SYSLOG}$' }, fixture('syslog-3164.log'));
    expect(bsd.map((e) => [e.fields.time, e.fields.hostname, e.fields.program, e.fields.pid, e.fields.priority])).toEqual([
      ['Dec 10 06:55:46', 'LabSZ', 'sshd', 24200, undefined],
      ['Dec 10 06:55:48', 'LabSZ', 'sshd', 24200, undefined],
      ['Oct 11 22:14:15', 'mymachine', 'su', undefined, 34],
      ['Mar  1 12:00:00', 'web-1', 'kernel', undefined, undefined],
    ]);
    expect(bsd[0]!.fields.msg).toBe('Invalid user webmaster from 173.234.31.186');
    const ietf = parse({ format: 'grok', pattern: '^%{SYSLOG}$' }, fixture('syslog-5424.log'));
    expect(ietf.filter((e) => e.fields[PARSE_ERROR_FIELD] !== undefined)).toEqual([]);
    expect(ietf[0]!.fields).toMatchObject({
      priority: 34,
      version: 1,
      time: '2003-10-11T22:14:15.003Z',
      hostname: 'mymachine.example.com',
    });
    expect(ietf[0]!.fields).toMatchObject({ app_name: 'su', msg_id: 'ID47' });
    expect(ietf[2]!.fields.structured_data).toBe('[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]');
    expect(ietf[3]!.fields.msg).toBeUndefined();
  });

  it('custom definitions and inline types', () => {
    const [e] = parse({ format: 'grok', pattern: '^%{ORDER:order} took %{NUMBER:ms:float}ms', definitions: { ORDER: 'ORD-%{INT}' } }, [
      'ORD-42 took 12.5ms',
    ]);
    expect(e!.fields).toEqual({ order: 'ORD-42', ms: 12.5 });
  });

  it('every built-in pattern is RE2 (linear) and also takes the fast engine on short lines', () => {
    for (const name of Object.keys(GROK_PATTERNS)) {
      const compiled = compileGrok(`%{${name}}`, {}, {}, 1024);
      expect({ name, fast: compiled.pattern.fast }).toEqual({ name, fast: true });
    }
  });

  it('parses a line longer than the fast path alike (RE2)', () => {
    const long = `10.0.0.7 - - [01/Mar/2024:12:00:00 +0000] "GET /${'a'.repeat(3000)} HTTP/1.1" 200 5 "-" "curl/8.5.0"`;
    const [e] = parse({ format: 'grok', pattern: '^%{NGINXACCESS}$' }, [long]);
    expect(e!.fields).toMatchObject({ client: '10.0.0.7', method: 'GET', status: 200, bytes: 5, user_agent: 'curl/8.5.0' });
    expect((e!.fields.path as string).length).toBe(3001);
  });
});

describe('parse options', () => {
  const problems = (o: Record<string, unknown>) =>
    parseOptions.safeParse(o).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
  it('reports pattern problems at load, at the pattern', () => {
    expect(problems({ format: 'grok', pattern: '%{NGINXACCES}' })).toEqual([
      'pattern: unknown pattern %{NGINXACCES} (did you mean %{NGINXACCESS}?)',
    ]);
    expect(problems({ format: 'regex', pattern: ['(?<a>x)', '(unclosed'] })[0]).toMatch(
      /^pattern\.1: invalid regular expression \/\(unclosed\/ /,
    );
    expect(problems({ format: 'regex', pattern: '\\d+' })).toEqual([
      'pattern: /\\d+/ has no named group (?<name>…): nothing would be extracted',
    ]);
    expect(problems({ format: 'grok', pattern: '%{A}', definitions: { A: '%{B}', B: '%{A}' } })[0]).toMatch(
      /refers to itself: A -> B -> A/,
    );
    expect(problems({ format: 'grok', pattern: '%{INT:n:hex}' })).toEqual([
      'pattern: unknown type "hex" for field "n": use string, int, float, bool',
    ]);
  });
  it('wants max_match_bytes of 1KiB or more', () => {
    expect(problems({ format: 'regex', pattern: '(?<a>x)', max_match_bytes: 0 })).toEqual([
      'max_match_bytes: max_match_bytes must be at least 1KiB, got 0 bytes',
    ]);
    expect(problems({ format: 'regex', pattern: '(?<a>x)', max_match_bytes: '1023B' })).toEqual([
      'max_match_bytes: max_match_bytes must be at least 1KiB, got 1023 bytes',
    ]);
    expect(parseOptions.parse({ format: 'regex', pattern: '(?<a>x)', max_match_bytes: '1KiB' }).max_match_bytes).toBe(1024);
    expect(parseOptions.parse({ format: 'json' }).max_match_bytes).toBe(64 * 1024);
  });
  it('refuses options of another format', () => {
    expect(problems({ format: 'json', pattern: 'x' })).toEqual(['pattern: format json takes no pattern (only regex and grok do)']);
    expect(problems({ format: 'logfmt', field_separator: ',' })).toEqual(['field_separator: field_separator is for format key_value']);
    expect(problems({ format: 'regex' })).toEqual(['pattern: format regex needs a pattern']);
    expect(problems({ format: 'json', target: 'message' })).toEqual(['target: expected "fields" or "fields.NAME"']);
  });
});

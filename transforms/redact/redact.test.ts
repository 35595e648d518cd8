import { describe, expect, it } from 'vitest';
import { secretValues } from '../../core/options/secret.js';
import { makeEvent } from '../../test/support/index.js';
import { compileRegex } from '../regex.js';
import { BUILT_IN, hasCardRun, luhn } from './detectors.js';
import { redactOptions } from './options.js';
import { RedactTransform } from './redact.js';

const redactor = (o: Record<string, unknown> = {}) => new RedactTransform('r', redactOptions.parse(o));
const text = (line: string, o: Record<string, unknown> = {}) => redactor(o).redactText(line);

describe('redact detectors', () => {
  it.each([
    ['mail bob.smith+shop@mail.example.co.uk now', 'mail [REDACTED:email] now'],
    ['to=<a_b@x-y.io>', 'to=<[REDACTED:email]>'],
  ])('email: %s', (line, out) => expect(text(line)).toBe(out));
  it.each(['user@localhost logged in', 'version 2.0@beta', 'git@ and @mentions', 'a@b.c'])('email: no false positive in %s', (line) =>
    expect(text(line, { detectors: ['email'] })).toBe(line),
  );

  it.each([
    ['paid with 4111 1111 1111 1111 today', 'paid with [REDACTED:credit_card] today'],
    ['card=4111-1111-1111-1111;', 'card=[REDACTED:credit_card];'],
    ['amex 378282246310005.', 'amex [REDACTED:credit_card].'],
    ['mc 5555555555554444 2024-03-01', 'mc [REDACTED:credit_card] 2024-03-01'],
    ['visa 4111 1111 1111 1111 2024', 'visa [REDACTED:credit_card] 2024'],
  ])('credit card: %s', (line, out) => expect(text(line)).toBe(out));
  it.each([
    'order 4111111111111112 (fails Luhn)',
    'trace 1234567890123456789012 is too long',
    'ts 1709294400123 is 13 digits starting with 1',
    'mixed 4111 1111-1111 1111 separators',
    'id=x4111111111111111 glued to a word',
    'phone +1 555 0100 and 2024-03-01 12:00:00',
  ])('credit card: no false positive in %s', (line) => expect(text(line, { detectors: ['credit_card'] })).toBe(line));
  it('luhn', () => {
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('79927398710')).toBe(false);
  });

  it.each([
    ['Authorization: Bearer abc.DEF-123_x~+/=', 'Authorization: Bearer [REDACTED:bearer_token]'],
    ['auth Basic dXNlcjpwYXNz', 'auth Basic [REDACTED:bearer_token]'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end', 'jwt [REDACTED:bearer_token] end'],
  ])('bearer token: %s', (line, out) => expect(text(line, { detectors: ['bearer_token'] })).toBe(out));
  it.each(['the bearer of bad news', 'basic auth disabled'])('bearer token: no false positive in %s', (line) =>
    expect(text(line, { detectors: ['bearer_token'] })).toBe(line),
  );

  it.each([
    ['api_key=abcdef123456 user=bob', 'api_key=[REDACTED:api_key] user=bob'],
    ['{"apiKey": "s3cr3t-v@lue", "id": 7}', '{"apiKey": "[REDACTED:api_key]", "id": 7}'],
    ['PASSWORD: hunter22', 'PASSWORD: [REDACTED:api_key]'],
    ['login ok password=pa55word&next=/', 'login ok password=[REDACTED:api_key]&next=/'],
    ['key sk_live_51H8xYzAbCdEfGhIjKl in config', 'key [REDACTED:api_key] in config'],
    ['token ghp_16C7e42F292c6912E7710c838347Ae178B4a pushed', 'token [REDACTED:api_key] pushed'],
    ['slack xoxb-123456789012-abcdefABCDEF posted', 'slack [REDACTED:api_key] posted'],
  ])('api key: %s', (line, out) => expect(text(line, { detectors: ['api_key'] })).toBe(out));
  it.each(['token count: 42', 'tokens=12 parsed', 'password reset requested for user 7', 'secret_santa=true', 'password=null'])(
    'api key: no false positive in %s',
    (line) => expect(text(line, { detectors: ['api_key'] })).toBe(line),
  );

  it.each([
    ['key AKIAIOSFODNN7EXAMPLE used', 'key [REDACTED:aws_key] used'],
    ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = [REDACTED:aws_key]'],
  ])('aws key: %s', (line, out) => expect(text(line, { detectors: ['aws_key'] })).toBe(out));
  it.each(['AKIA is a prefix', 'AKIAIOSFODNN7EXAMPLEX is 21 chars', 'aws_secret_access_key=short'])(
    'aws key: no false positive in %s',
    (line) => expect(text(line, { detectors: ['aws_key'] })).toBe(line),
  );

  it.each([
    ['from 10.1.2.3:8080 ok', 'from [REDACTED:ipv4]:8080 ok'],
    ['client 255.255.255.255', 'client [REDACTED:ipv4]'],
  ])('ipv4: %s', (line, out) => expect(text(line, { detectors: ['ipv4'] })).toBe(out));
  it.each(['version 1.2.3.4.5', 'octet 256.1.1.1', 'v 01.2.3.4'])('ipv4: no false positive in %s', (line) =>
    expect(text(line, { detectors: ['ipv4'] })).toBe(line),
  );
  it.each([
    ['peer 2001:db8::8a2e:370:7334 connected', 'peer [REDACTED:ipv6] connected'],
    ['[::1]:443', '[[REDACTED:ipv6]]:443'],
    ['mapped ::ffff:10.0.0.1', 'mapped [REDACTED:ipv6]'],
  ])('ipv6: %s', (line, out) => expect(text(line, { detectors: ['ipv6'] })).toBe(out));
  it.each(['at 12:00:00 sharp', 'ratio a:b:c', 'mac 00:1a:2b:3c:4d:5e'])('ipv6: no false positive in %s', (line) =>
    expect(text(line, { detectors: ['ipv6'] })).toBe(line),
  );

  it('every built-in detector takes the fast engine on short values and RE2 on long ones, alike', () => {
    for (const [name, make] of Object.entries(BUILT_IN)) {
      const d = make(64 * 1024);
      if (d.source) expect({ name, fast: compileRegex(d.source, 1024).fast }).toEqual({ name, fast: true });
    }
    const long = `${'x '.repeat(1000)}mail bob@example.com card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE`;
    expect(text(long).slice(2000)).toBe('mail [REDACTED:email] card [REDACTED:credit_card] key [REDACTED:aws_key]');
  });

  it('stays linear on hostile values (RE2 beyond 1 KiB)', () => {
    // Backtracking engines take minutes on these: a run of local-part characters before a lone @,
    // a key word followed by a long run of spaces, and a bearer credential of one letter case
    // (a regex checking for both cases took 2.9 s on 60000 characters, minutes on 1 MiB).
    expect(text(`${'a'.repeat(256 * 1024)}@`)).toBe(`${'a'.repeat(256 * 1024)}@`);
    expect(text(`password${' '.repeat(256 * 1024)}x`, { detectors: ['api_key'] })).toHaveLength(256 * 1024 + 9);
    const bearer = (n: number) => `Authorization: Bearer ${'a'.repeat(n)}`;
    expect(text(bearer(60_000))).toBe(bearer(60_000));
    expect(text(`${bearer(60_000)}A`)).toBe('Authorization: Bearer [REDACTED:bearer_token]');
    expect(text(bearer(1024 * 1024), { max_match_bytes: '1MiB' })).toBe(bearer(1024 * 1024));
  });
});

describe('redact transform', () => {
  it('redacts message and fields at any depth, hides secret fields whole, spares allowed ones', () => {
    const e = makeEvent({
      message: 'login bob@example.com',
      fields: {
        user: { email: 'bob@example.com', Password: 'x' },
        list: ['card 4111111111111111', 3],
        trace_email: 'ops@example.com',
        token: { nested: true },
        note: 'nothing here',
      },
    });
    redactor({ allow_fields: ['trace_*'] }).apply([e]);
    expect(e.message).toBe('login [REDACTED:email]');
    expect(e.fields).toEqual({
      user: { email: '[REDACTED:email]', Password: '[REDACTED:secret]' },
      list: ['card [REDACTED:credit_card]', 3],
      trace_email: 'ops@example.com',
      token: '[REDACTED:secret]',
      note: 'nothing here',
    });
  });

  it('hides a field whose name is a secret field in any case, and no other (5000 random names, non-ASCII included)', () => {
    const secretFields = ['password', 'Api-Key', '_priv', 'İd', 'émail', '9lives'];
    const wanted = new Set(secretFields.map((f) => f.toLowerCase()));
    const r = redactor({ detectors: [], secret_fields: secretFields });
    const pieces = [
      'password',
      'PASSWORD',
      'Api-key',
      'API-KEY',
      '_priv',
      '_PRIV',
      'İd',
      'i̇d',
      'ID',
      'émail',
      'ÉMAIL',
      '9lives',
      'p',
      'a',
      '_',
      'x',
      'İ',
      'é',
      '9',
    ];
    let seed = 3;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    let hidden = 0;
    for (let k = 0; k < 5000; k++) {
      const key = Array.from({ length: 1 + random(2) }, () => pieces[random(pieces.length)]).join('');
      const e = makeEvent({ fields: { [key]: 'v' } });
      r.apply([e]);
      const secret = wanted.has(key.toLowerCase());
      expect(e.fields[key], key).toBe(secret ? '[REDACTED:secret]' : 'v');
      if (secret) hidden++;
    }
    expect(hidden).toBeGreaterThan(500);
  });

  it('hashes with a key: equal values stay equal, different keys differ', () => {
    const a = text('bob@example.com and bob@example.com and eve@example.com', { mode: 'hash', hash_key: 'k'.repeat(16) });
    const [first, second, third] = a.match(/\[REDACTED:email:[0-9a-f]{16}\]/g)!;
    expect(first).toBe(second);
    expect(third).not.toBe(first);
    const b = text('bob@example.com', { mode: 'hash', hash_key: 'j'.repeat(16) });
    expect(b).not.toBe(first);
  });

  it('takes custom patterns, hiding only their value group', () => {
    const out = text('order ACME-123456 for customer=C-99', {
      detectors: [],
      patterns: { order_id: 'ACME-\\d{6}', customer: 'customer=(?<value>\\S+)' },
      replacement: '***',
    });
    expect(out).toBe('order *** for customer=***');
  });

  it('hides the value group where it matched, not where its text occurs last', () => {
    expect(text('pin 1234 for user 991234', { detectors: [], patterns: { pin: 'pin (?<value>\\d{4}) for user \\d+' } })).toBe(
      'pin [REDACTED:pin] for user 991234',
    );
    // Where the engines read a pattern apart (only RE2's `.` takes \r) the place is unknown: the whole match is hidden.
    expect(text('xx bb\r', { detectors: [], patterns: { b: '(?<value>b)b.?' } })).toBe('xx [REDACTED:b]\r');
  });

  it('checks its options', () => {
    const issues = (o: Record<string, unknown>) => redactOptions.safeParse(o).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ mode: 'hash' })).toEqual(['hash_key: mode hash needs a hash_key (e.g. "${REDACT_KEY}")']);
    expect(issues({ patterns: { bad: '(x' } })?.[0]).toMatch(/^patterns\.bad: invalid regular expression \/\(x\/ \(RE2 syntax/);
    expect(issues({ detectors: ['phone'] })?.[0]).toMatch(/^detectors\.0: /);
    expect(issues({ max_match_bytes: 0 })).toEqual(['max_match_bytes: max_match_bytes must be at least 1KiB, got 0 bytes']);
    expect(redactOptions.parse({ max_match_bytes: '1KiB' }).max_match_bytes).toBe(1024);
  });
});

describe('the card gate', () => {
  it('passes exactly the texts the card candidate regex matches (on 20000 random texts of digits, separators and letters)', () => {
    const candidate = /\d[\d -]{11}[\d -]*\d/;
    const alphabet = '0123456789 -x';
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let passed = 0;
    for (let k = 0; k < 20_000; k++) {
      let t = '';
      const length = Math.floor(random() * 40);
      // Mostly digits, so that long runs (and near misses of 12) are frequent.
      for (let i = 0; i < length; i++) t += random() < 0.75 ? alphabet[Math.floor(random() * 10)] : alphabet[10 + Math.floor(random() * 3)];
      expect(hasCardRun(t, 4096), JSON.stringify(t)).toBe(candidate.test(t));
      if (candidate.test(t)) passed++;
    }
    expect(passed).toBeGreaterThan(1000);
    // Longer texts with sparser runs, through every head length: the gate looks at every 13th
    // character first, so runs of every length at every alignment must still be found.
    let longPassed = 0;
    for (let k = 0; k < 5_000; k++) {
      let t = '';
      const length = Math.floor(random() * 120);
      const digits = random();
      for (let i = 0; i < length; i++)
        t += random() < digits ? alphabet[Math.floor(random() * 10)] : alphabet[10 + Math.floor(random() * 3)];
      const head = Math.floor(random() * (length + 2));
      expect(hasCardRun(t, head), JSON.stringify([t, head])).toBe(candidate.test(t.slice(0, head)));
      if (candidate.test(t.slice(0, head))) longPassed++;
    }
    expect(longPassed).toBeGreaterThan(500);
    // Only the head is looked at, like every pattern on log data.
    expect(hasCardRun(`${'x'.repeat(100)}4111 1111 1111 1111`, 100)).toBe(false);
    expect(redactor().redactText('card 4111-1111-1111-1111 ok')).toBe('card [REDACTED:credit_card] ok');
  });
});

describe('redact secrets', () => {
  it('hides the hash key from errors and logs', () => {
    const o = redactOptions.parse({ mode: 'hash', hash_key: 'k3y-hidden-0123456789' });
    expect(secretValues(redactOptions, o)).toContain('k3y-hidden-0123456789');
  });
});

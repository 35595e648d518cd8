import { describe, expect, it } from 'vitest';
import type { LogEvent } from './event.js';
import { EventTemplate, parseTemplate, type Placeholder, safePathSegment, ZonedClock } from './template.js';

const event = (timestamp: number, over: Partial<LogEvent> = {}): LogEvent => ({
  id: 'x',
  timestamp,
  message: 'm',
  service: 'shop',
  module: 'web',
  host: 'h1',
  source: { kind: 'file' },
  fields: {},
  ...over,
});

describe('ZonedClock', () => {
  // Reference: Intl, formatted per timestamp (what the cache must agree with everywhere, DST changes included).
  const formats = new Map<string, Intl.DateTimeFormat>();
  const reference = (tz: string, ms: number) => {
    let f = formats.get(tz);
    if (!f)
      formats.set(
        tz,
        (f = new Intl.DateTimeFormat('en-CA', {
          timeZone: tz,
          hourCycle: 'h23',
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        })),
      );
    const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  };

  for (const tz of ['UTC', 'Asia/Kolkata', 'America/Los_Angeles', 'Europe/Berlin', 'America/St_Johns', 'Australia/Lord_Howe']) {
    it(`formats like Intl in ${tz}, across DST changes, every 4 minutes around them`, () => {
      const t = new EventTemplate('%Y-%m-%d %H:%M:%S', { timeZone: tz, sanitize: (v) => v });
      const starts = [
        Date.UTC(2024, 2, 9, 0),
        Date.UTC(2024, 2, 30, 20),
        Date.UTC(2024, 3, 6, 10),
        Date.UTC(2024, 9, 5, 10),
        Date.UTC(2024, 10, 2, 20),
      ];
      let checked = 0;
      for (const start of starts) {
        for (let ms = start; ms < start + 2 * 86_400_000; ms += 239_999) {
          expect(t.render(event(ms))).toBe(reference(tz, ms));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(3000);
    });
  }

  it('rejects an unknown time zone', () => {
    expect(() => new ZonedClock('Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe('EventTemplate', () => {
  it('puts events either side of midnight in Asia/Kolkata on their local days', () => {
    const t = new EventTemplate('{service}/{module}/%Y-%m-%d/{host}.log', { timeZone: 'Asia/Kolkata', sanitize: safePathSegment });
    expect(t.render(event(Date.parse('2024-03-01T18:29:59.999Z')))).toBe('shop/web/2024-03-01/h1.log');
    expect(t.render(event(Date.parse('2024-03-01T18:30:00.000Z')))).toBe('shop/web/2024-03-02/h1.log');
  });

  it('takes fields, %j, %y and %%', () => {
    const t = new EventTemplate('{fields.tenant}-{source.kind}-%y-%j-100%%', { timeZone: 'UTC', sanitize: safePathSegment });
    expect(t.render(event(Date.parse('2024-12-31T12:00:00Z'), { fields: { tenant: 'acme' } }))).toBe('acme-file-24-366-100%');
    expect(t.render(event(0, { fields: { tenant: 42 } }))).toBe('42-file-70-001-100%');
    expect(t.render(event(0))).toBe('unknown-file-70-001-100%');
  });

  it('renderCached gives what render gives, whatever the mix of values and days', () => {
    const t = new EventTemplate('{service}/{fields.tenant}/%Y-%m-%d/%H/{host}.log', {
      timeZone: 'America/Los_Angeles',
      sanitize: safePathSegment,
    });
    const fresh = new EventTemplate(t.text, { timeZone: 'America/Los_Angeles', sanitize: safePathSegment });
    const names = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const e = event(Date.UTC(2024, 2, 9) + i * 97_001, {
        service: `s${i % 7}`,
        host: i % 11 === 0 ? '../x' : `h${i % 3}`,
        fields: i % 5 === 0 ? { tenant: { a: i % 2 } } : { tenant: i % 4 },
      });
      const name = t.renderCached(e);
      expect(name).toBe(fresh.render(e));
      names.add(name);
    }
    expect(names.size).toBeGreaterThan(1000);
  });

  it('shows every placeholder to check, with its position, and lets its error replace the generic one', () => {
    const seen: Placeholder[] = [];
    parseTemplate('{ service }/%Y-%%-{host}', { check: (p) => void seen.push(p) });
    expect(seen).toEqual([
      { kind: 'field', name: 'service', at: 1 },
      { kind: 'time', name: 'Y', at: 13 },
      { kind: 'time', name: '%', at: 16 },
      { kind: 'field', name: 'host', at: 19 },
    ]);
    const onlyService = (p: Placeholder) => {
      if (p.kind === 'field' && p.name !== 'service') throw new RangeError(`no {${p.name}} here`);
    };
    expect(() => parseTemplate('{service}/{nope}', { check: onlyService })).toThrow(new RangeError('no {nope} here'));
    expect(() => parseTemplate('{service}/{host}', { check: onlyService })).toThrow(new RangeError('no {host} here'));
    expect(parseTemplate('{service}/%d', { check: onlyService })).toHaveLength(3);
  });

  it('finish shapes the whole name, once per distinct name when cached', () => {
    let calls = 0;
    const finish = (name: string) => {
      calls++;
      return name.toUpperCase();
    };
    const t = new EventTemplate('{service}-%Y.%m.%d', { timeZone: 'UTC', sanitize: (v) => v, finish });
    const day = Date.UTC(2024, 2, 9);
    const names = new Set<string>();
    for (let i = 0; i < 1000; i++) names.add(t.renderCached(event(day + i * 60_000, { service: i % 2 ? 'a' : 'b' })));
    expect([...names].sort()).toEqual(['A-2024.03.09', 'B-2024.03.09']);
    expect(calls).toBe(2);
    expect(t.render(event(day, { service: 'c' }))).toBe('C-2024.03.09');
  });

  it('names what is wrong in a bad template', () => {
    expect(() => parseTemplate('{service}/%Q.log')).toThrow(/unknown time format "%Q" at character 11/);
    expect(() => parseTemplate('{nope}.log')).toThrow(/unknown field \{nope\}/);
    expect(() => parseTemplate('{service.log')).toThrow(/"\{" at character 1 is not closed/);
    expect(() => parseTemplate('a}b')).toThrow(/"\}" at character 2 has no opening/);
  });
});

describe('safePathSegment', () => {
  it('turns anything into one harmless segment', () => {
    expect(safePathSegment('..')).toBe('__');
    expect(safePathSegment('../../etc/passwd')).toBe('______etc_passwd');
    expect(safePathSegment('/abs')).toBe('_abs');
    expect(safePathSegment('a\\b')).toBe('a_b');
    expect(safePathSegment('nul\u0000new\nline\u007f')).toBe('nul_new_line_');
    expect(safePathSegment('.hidden')).toBe('_hidden');
    expect(safePathSegment('')).toBe('unknown');
    expect(safePathSegment('   ')).toBe('unknown');
    expect(safePathSegment('v1.2.3')).toBe('v1.2.3');
    expect(Buffer.byteLength(safePathSegment('é'.repeat(300)))).toBe(100);
  });
});

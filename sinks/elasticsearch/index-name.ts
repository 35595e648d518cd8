import type { LogEvent } from '../../core/event.js';

/**
 * Index names from a template such as `logs-{service}-%Y.%m.%d`: `{service}`, `{module}`
 * and `{host}` come from the event, strftime fields from the event time in a time zone.
 *
 * Event values are untrusted (a service name is whatever a container label says), so each
 * one is reduced to a safe part of an index name before it is put in: Elasticsearch's
 * rules (lowercase; none of `\ / * ? " < > | , # :` or whitespace; no leading `-`, `_`,
 * `+`; not `.` or `..`; at most 255 bytes) are applied to every value and to the whole
 * name, so no log line can pick a wildcard, a comma-separated list or another tenant's
 * index. Each value is capped so the date part of the name always survives: a name cut
 * at 255 bytes would merge days and defeat retention.
 */

export const INDEX_FIELDS = ['service', 'module', 'host'] as const;
export type IndexField = (typeof INDEX_FIELDS)[number];

const STRFTIME = new Set(['Y', 'm', 'd', 'H', 'j', '%']);
const MAX_NAME_BYTES = 255;
const MAX_VALUE_BYTES = 64;
const ILLEGAL = /[\\/*?"<>|,#:\s\p{Cc}]/gu;

type Part = { kind: 'text'; text: string } | { kind: 'field'; field: IndexField } | { kind: 'time'; spec: string };

export class IndexTemplateError extends Error {}

export function parseIndexTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let text = '';
  const flush = () => {
    if (text) parts.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '{') {
      const end = template.indexOf('}', i);
      const field = end < 0 ? '' : template.slice(i + 1, end);
      if (!(INDEX_FIELDS as readonly string[]).includes(field)) {
        throw new IndexTemplateError(`unknown placeholder "{${field}}" at character ${i + 1}: use ${INDEX_FIELDS.map((f) => `{${f}}`).join(', ')}`);
      }
      flush();
      parts.push({ kind: 'field', field: field as IndexField });
      i = end;
    } else if (c === '%') {
      const spec = template[i + 1] ?? '';
      if (!STRFTIME.has(spec)) throw new IndexTemplateError(`unsupported time field "%${spec}" at character ${i + 1}: use %Y, %m, %d, %H, %j or %%`);
      if (spec === '%') text += '%';
      else {
        flush();
        parts.push({ kind: 'time', spec });
      }
      i++;
    } else text += c;
  }
  flush();
  for (const p of parts) {
    if (p.kind === 'text' && sanitizeValue(p.text, Infinity) !== p.text) {
      throw new IndexTemplateError(`"${p.text}" is not allowed in an index name: use lowercase letters, digits, "-", "_", "." and "+" only`);
    }
  }
  const first = parts[0];
  if (first?.kind === 'text' && /^[-_+]/.test(first.text)) throw new IndexTemplateError('an index name may not start with "-", "_" or "+"');
  if (parts.length === 0) throw new IndexTemplateError('the index template is empty');
  return parts;
}

/** Makes one untrusted value safe inside an index name (never empty). */
export function sanitizeValue(value: string, maxBytes = MAX_VALUE_BYTES): string {
  const clean = value.toLowerCase().replace(ILLEGAL, '_');
  return truncateBytes(clean, maxBytes) || 'unknown';
}

/** Applies the whole-name rules: no leading `-_+`, not `.`/`..`, at most 255 bytes. */
export function sanitizeIndexName(name: string): string {
  let out = name.toLowerCase().replace(ILLEGAL, '_').replace(/^[-_+]+/, '');
  out = truncateBytes(out, MAX_NAME_BYTES);
  if (out === '' || out === '.' || out === '..') return 'unknown';
  return out;
}

function truncateBytes(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

interface TimeParts {
  Y: string;
  m: string;
  d: string;
  H: string;
  j: string;
}

/**
 * Renders index names for events. Time fields are computed once per minute of event
 * time (zone offsets change on minute boundaries at the finest), and sanitized values are
 * cached, so the per-event cost is a few map lookups and a string join.
 */
export class IndexNamer {
  private readonly parts: Part[];
  private readonly fmt: Intl.DateTimeFormat | undefined;
  private readonly timeCache = new Map<number, TimeParts>();
  private readonly valueCache = new Map<string, string>();
  readonly hasTime: boolean;
  readonly daily: boolean;

  constructor(
    readonly template: string,
    readonly timeZone = 'UTC',
  ) {
    this.parts = parseIndexTemplate(template);
    this.hasTime = this.parts.some((p) => p.kind === 'time');
    const specs = new Set(this.parts.flatMap((p) => (p.kind === 'time' ? [p.spec] : [])));
    this.daily = specs.has('Y') && (specs.has('j') || (specs.has('m') && specs.has('d')));
    this.fmt =
      timeZone === 'UTC'
        ? undefined
        : new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit' });
  }

  name(event: LogEvent): string {
    let out = '';
    for (const p of this.parts) {
      if (p.kind === 'text') out += p.text;
      else if (p.kind === 'field') out += this.value(event[p.field]);
      else out += this.time(event.timestamp)[p.spec as keyof TimeParts];
    }
    return sanitizeIndexName(out);
  }

  /** The name for a given set of values and time: what retention and search compute. */
  nameFor(values: Partial<Record<IndexField, string>>, timestamp: number): string {
    return this.name({ id: '', timestamp, message: '', service: values.service ?? '', module: values.module ?? '', host: values.host ?? '', source: { kind: '' }, fields: {} });
  }

  /** Elasticsearch wildcard pattern matching every name this template can produce. */
  pattern(): string {
    return this.parts.map((p) => (p.kind === 'text' ? p.text : '*')).join('').replace(/\*+/g, '*');
  }

  /**
   * Parses the day (as a UTC midnight in ms, in the template's time zone calendar) out
   * of an index name this template produced; undefined for names it did not produce.
   */
  dayOf(index: string): number | undefined {
    const groups: string[] = [];
    const re = this.parts
      .map((p) => {
        if (p.kind === 'text') return p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        if (p.kind === 'field') return '.+?';
        groups.push(p.spec);
        return p.spec === 'Y' ? '(\\d{4})' : p.spec === 'j' ? '(\\d{3})' : '(\\d{2})';
      })
      .join('');
    const m = new RegExp(`^${re}$`).exec(index);
    if (!m || !this.daily) return undefined;
    const got: Record<string, number> = {};
    groups.forEach((g, i) => (got[g] = Number(m[i + 1])));
    const year = got.Y!;
    if (got.j !== undefined && got.m === undefined) return Date.UTC(year, 0, got.j);
    return Date.UTC(year, got.m! - 1, got.d!);
  }

  /** Today's calendar day in the template's time zone, as a UTC midnight in ms. */
  dayNumber(now: number): number {
    const t = this.time(now);
    return Date.UTC(Number(t.Y), Number(t.m) - 1, Number(t.d));
  }

  private value(raw: string): string {
    let v = this.valueCache.get(raw);
    if (v === undefined) {
      if (this.valueCache.size > 10_000) this.valueCache.clear();
      v = sanitizeValue(raw);
      this.valueCache.set(raw, v);
    }
    return v;
  }

  private time(ts: number): TimeParts {
    const minute = Math.floor(ts / 60_000);
    let t = this.timeCache.get(minute);
    if (t) return t;
    if (this.timeCache.size > 1024) this.timeCache.clear();
    const d = new Date(minute * 60_000);
    let Y: number, m: number, day: number, H: number;
    if (!this.fmt) {
      Y = d.getUTCFullYear();
      m = d.getUTCMonth() + 1;
      day = d.getUTCDate();
      H = d.getUTCHours();
    } else {
      const p: Record<string, string> = {};
      for (const { type, value } of this.fmt.formatToParts(d)) p[type] = value;
      Y = Number(p.year);
      m = Number(p.month);
      day = Number(p.day);
      H = Number(p.hour);
    }
    const j = Math.round((Date.UTC(Y, m - 1, day) - Date.UTC(Y, 0, 1)) / 86_400_000) + 1;
    t = { Y: String(Y).padStart(4, '0'), m: pad(m), d: pad(day), H: pad(H), j: String(j).padStart(3, '0') };
    this.timeCache.set(minute, t);
    return t;
  }
}

const pad = (n: number) => String(n).padStart(2, '0');

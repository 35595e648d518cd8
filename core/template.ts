import type { LogEvent } from './event.js';

/**
 * Templates that turn an event into a name: file paths (`{service}/{module}/%Y-%m-%d/{host}.log`,
 * sinks/file) and index names (`logs-{service}-%Y.%m.%d`, sinks/elasticsearch). `{name}` takes
 * an event field, `%X` formats the event's time in a configured IANA time zone. What a name
 * may contain is the sink's business: it narrows the placeholders (ParseOptions.check) and
 * makes values and the whole name safe (EventTemplateOptions.sanitize and finish).
 *
 * Rendering is on the hot path of every sink that partitions, so nothing here formats a
 * date per event: the zone's UTC offset is cached per hour (Intl runs once per hour of
 * event time, and again only around a DST change), and the time tokens are cached per
 * bucket of the finest token the template uses (a day for `%Y-%m-%d`).
 */

export const TEMPLATE_FIELDS = ['service', 'module', 'host', 'source.kind', 'fields.NAME'] as const;
const TIME_TOKENS = {
  Y: 'year (2024)',
  y: 'year, two digits (24)',
  m: 'month (01-12)',
  d: 'day of month (01-31)',
  j: 'day of year (001-366)',
  H: 'hour (00-23)',
  M: 'minute (00-59)',
  S: 'second (00-59)',
  '%': 'a literal %',
} as const;
type TimeToken = Exclude<keyof typeof TIME_TOKENS, '%'>;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const GRANULARITY_MS: Record<TimeToken, number> = { Y: DAY_MS, y: DAY_MS, m: DAY_MS, d: DAY_MS, j: DAY_MS, H: HOUR_MS, M: 60_000, S: 1000 };

export type TemplatePart =
  | { kind: 'literal'; text: string }
  | { kind: 'field'; name: string; get: (e: LogEvent) => unknown }
  | { kind: 'time'; token: TimeToken };

/** A `{field}` or `%token` as written, with its 1-based character position in the template. */
export interface Placeholder {
  kind: 'field' | 'time';
  /** The field name (trimmed), or the character after `%` (`%` for `%%`, empty at the end of the text). */
  name: string;
  at: number;
}

export interface ParseOptions {
  /**
   * Sees every placeholder before the generic checks and may throw: how a sink allows only
   * part of the vocabulary (an index name takes no `{fields.*}` and nothing finer than `%H`)
   * and says so in its own words.
   */
  check?: (placeholder: Placeholder) => void;
}

/** Parses a template; throws an Error saying what is wrong and where in the text. */
export function parseTemplate(text: string, options: ParseOptions = {}): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  const flush = () => {
    if (literal) parts.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '%') {
      const t = text[i + 1];
      options.check?.({ kind: 'time', name: t ?? '', at: i + 1 });
      if (t === undefined || !(t in TIME_TOKENS)) {
        throw new Error(
          `template ${JSON.stringify(text)}: unknown time format "%${t ?? ''}" at character ${i + 1} (known: ${Object.keys(TIME_TOKENS)
            .map((k) => `%${k}`)
            .join(' ')})`,
        );
      }
      i++;
      if (t === '%') literal += '%';
      else {
        flush();
        parts.push({ kind: 'time', token: t as TimeToken });
      }
    } else if (c === '{') {
      const end = text.indexOf('}', i);
      if (end === -1) throw new Error(`template ${JSON.stringify(text)}: "{" at character ${i + 1} is not closed`);
      const name = text.slice(i + 1, end).trim();
      options.check?.({ kind: 'field', name, at: i + 1 });
      flush();
      parts.push({ kind: 'field', name, get: fieldGetter(name, text) });
      i = end;
    } else if (c === '}') {
      throw new Error(`template ${JSON.stringify(text)}: "}" at character ${i + 1} has no opening "{"`);
    } else literal += c;
  }
  flush();
  return parts;
}

function fieldGetter(name: string, text: string): (e: LogEvent) => unknown {
  switch (name) {
    case 'service':
      return (e) => e.service;
    case 'module':
      return (e) => e.module;
    case 'host':
      return (e) => e.host;
    case 'source.kind':
      return (e) => e.source.kind;
  }
  if (name.startsWith('fields.') && name.length > 'fields.'.length) {
    const key = name.slice('fields.'.length);
    return (e) => e.fields[key];
  }
  throw new Error(`template ${JSON.stringify(text)}: unknown field {${name}} (known: ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(' ')})`);
}

/**
 * A time zone's UTC offset, cached per UTC hour. An hour whose start and end have the
 * same offset holds no transition (zones change at most once in an hour), so one Intl call
 * covers every event in it; the rare hour with a DST change is computed per event.
 */
export class ZonedClock {
  private readonly fmt: Intl.DateTimeFormat | undefined;
  private readonly hours = new Map<number, number>();
  private lastHour = Number.NaN;
  private lastOffset = 0;

  constructor(readonly timeZone: string) {
    if (!isValidTimeZone(timeZone))
      throw new Error(`unknown time zone ${JSON.stringify(timeZone)} (use an IANA name such as "UTC", "Europe/Berlin" or "Asia/Kolkata")`);
    this.fmt =
      timeZone === 'UTC' || timeZone === 'Etc/UTC'
        ? undefined
        : new Intl.DateTimeFormat('en-US', {
            timeZone,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          });
  }

  /** Offset of local time from UTC at `ms`, in milliseconds. */
  offset(ms: number): number {
    if (!this.fmt) return 0;
    const hour = Math.floor(ms / HOUR_MS);
    if (hour === this.lastHour) return Number.isNaN(this.lastOffset) ? this.exactOffset(ms) : this.lastOffset;
    let offset = this.hours.get(hour);
    if (offset === undefined) {
      const start = this.exactOffset(hour * HOUR_MS);
      offset = start === this.exactOffset(hour * HOUR_MS + HOUR_MS - 1) ? start : Number.NaN;
      if (this.hours.size >= 100_000) this.hours.clear();
      this.hours.set(hour, offset);
    }
    this.lastHour = hour;
    this.lastOffset = offset;
    return Number.isNaN(offset) ? this.exactOffset(ms) : offset;
  }

  /** Local wall-clock time as if it were UTC: its UTC getters give the local fields. */
  local(ms: number): number {
    return ms + this.offset(ms);
  }

  /** Days since 1970-01-01 of the local date at `ms`. */
  day(ms: number): number {
    return Math.floor(this.local(ms) / DAY_MS);
  }

  private exactOffset(ms: number): number {
    const p: Record<string, number> = {};
    for (const { type, value } of this.fmt!.formatToParts(ms)) if (type !== 'literal') p[type] = Number(value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    return wall - (ms - (((ms % 1000) + 1000) % 1000));
  }
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Formats one time token of a local (zone-shifted) time. */
export function formatTimeToken(token: TimeToken, local: number): string {
  const d = new Date(local);
  switch (token) {
    case 'Y':
      return String(d.getUTCFullYear()).padStart(4, '0');
    case 'y':
      return pad2(d.getUTCFullYear() % 100);
    case 'm':
      return pad2(d.getUTCMonth() + 1);
    case 'd':
      return pad2(d.getUTCDate());
    case 'j':
      return String(Math.floor((local - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS) + 1).padStart(3, '0');
    case 'H':
      return pad2(d.getUTCHours());
    case 'M':
      return pad2(d.getUTCMinutes());
    case 'S':
      return pad2(d.getUTCSeconds());
  }
}

export interface EventTemplateOptions {
  timeZone: string;
  /** Turns a field's value into what may appear in the name (a safe path segment, an index name part). */
  sanitize: (value: string) => string;
  /**
   * Turns the whole rendered name into what may be used (rules about the name as a whole,
   * such as a length cap); renderCached caches its result, so it runs once per distinct name.
   */
  finish?: (name: string) => string;
}

/** A compiled template: render(event) is cheap enough to call for every event. */
export class EventTemplate {
  readonly parts: readonly TemplatePart[];
  readonly clock: ZonedClock;
  private readonly granularity: number;
  private readonly sanitize: (value: string) => string;
  private readonly finish: ((name: string) => string) | undefined;
  private readonly sanitized = new Map<string, string>();
  private bucket = Number.NaN;
  private timeText: string[] = [];
  private readonly buckets = new Map<number, string[]>();
  private readonly keyParts: readonly TemplatePart[];
  private readonly hasTime: boolean;
  private rendered = new Map<unknown, unknown>();
  private renderedCount = 0;

  constructor(
    readonly text: string,
    options: EventTemplateOptions,
  ) {
    this.parts = parseTemplate(text);
    this.clock = new ZonedClock(options.timeZone);
    this.sanitize = options.sanitize;
    this.finish = options.finish;
    this.granularity = Math.min(DAY_MS, ...this.parts.map((p) => (p.kind === 'time' ? GRANULARITY_MS[p.token] : DAY_MS)));
    this.keyParts = this.parts.filter((p) => p.kind === 'field');
    this.hasTime = this.parts.some((p) => p.kind === 'time');
  }

  /**
   * render(), memoized on the raw field values and the time bucket (a tree of Maps, one
   * level per field): the same string object comes back for every event of one name, so a
   * caller grouping by it hashes no new string per event.
   */
  renderCached(event: LogEvent): string {
    let node = this.rendered;
    for (const part of this.keyParts) {
      const raw = (part as { get: (e: LogEvent) => unknown }).get(event);
      const key = typeof raw === 'object' && raw !== null ? JSON.stringify(raw) : raw;
      let next = node.get(key) as Map<unknown, unknown> | undefined;
      if (next === undefined) node.set(key, (next = new Map()));
      node = next;
    }
    const bucket = this.hasTime
      ? Math.floor(this.clock.local(Number.isFinite(event.timestamp) ? event.timestamp : 0) / this.granularity)
      : 0;
    let name = node.get(bucket) as string | undefined;
    if (name === undefined) {
      if (this.renderedCount >= 100_000) {
        this.rendered = new Map();
        this.renderedCount = 0;
        return this.renderCached(event);
      }
      name = this.render(event);
      node.set(bucket, name);
      this.renderedCount++;
    }
    return name;
  }

  render(event: LogEvent): string {
    let out = '';
    let t = 0;
    for (const part of this.parts) {
      if (part.kind === 'literal') out += part.text;
      else if (part.kind === 'field') out += this.value(part.get(event));
      else {
        if (t === 0) this.timeFor(event.timestamp);
        out += this.timeText[t++];
      }
    }
    return this.finish ? this.finish(out) : out;
  }

  /** The sanitized text of a field value: strings and numbers as they are, anything else as JSON. */
  value(raw: unknown): string {
    const text =
      typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
    let safe = this.sanitized.get(text);
    if (safe === undefined) {
      safe = this.sanitize(text);
      if (this.sanitized.size >= 10_000) this.sanitized.clear();
      this.sanitized.set(text, safe);
    }
    return safe;
  }

  private timeFor(ms: number): void {
    const local = this.clock.local(Number.isFinite(ms) ? ms : 0);
    const bucket = Math.floor(local / this.granularity);
    if (bucket === this.bucket) return;
    this.bucket = bucket;
    let text = this.buckets.get(bucket);
    if (text === undefined) {
      text = [];
      for (const part of this.parts) if (part.kind === 'time') text.push(formatTimeToken(part.token, local));
      if (this.buckets.size >= 10_000) this.buckets.clear();
      this.buckets.set(bucket, text);
    }
    this.timeText = text;
  }
}

const UNSAFE_IN_SEGMENT = /[\u0000-\u001f\u007f-\u009f/\\]/g;
const MAX_VALUE_BYTES = 100;

/**
 * Makes any text one safe path segment: no separators, no control characters, no `..`,
 * no leading dot (hidden names are the file sink's in-progress files), at most 100 bytes,
 * and never empty (`unknown`). Log content and container labels end up here, so this is
 * what keeps a sink inside its root whatever the data says.
 */
export function safePathSegment(value: string): string {
  let s = value.replace(UNSAFE_IN_SEGMENT, '_').replace(/\.{2,}/g, (dots) => '_'.repeat(dots.length));
  if (s.startsWith('.')) s = `_${s.slice(1)}`;
  if (Buffer.byteLength(s) > MAX_VALUE_BYTES)
    s = Buffer.from(s)
      .subarray(0, MAX_VALUE_BYTES)
      .toString('utf8')
      .replace(/\uFFFD+$/, '');
  return s.trim() === '' ? 'unknown' : s;
}

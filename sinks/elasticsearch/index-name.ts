import type { LogEvent } from '../../core/event.js';
import {
  DistinctLimit,
  type DistinctLimitOptions,
  EventTemplate,
  OVERFLOW,
  parseTemplate,
  type Placeholder,
  type TemplatePart,
} from '../../core/template.js';

/**
 * Index names from a template such as `logs-{service}-%Y.%m.%d`: `{service}`, `{module}`
 * and `{host}` come from the event (a missing one renders its fallback, `{service:-x}`, or
 * `unknown`), strftime fields from the event time in a time zone. Parsing, field paths,
 * time zones, the per-event caches and `max_distinct` are core/template.ts, shared with
 * the Kafka topic and the file sink; what is here is what Elasticsearch asks of a name.
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

/** Nothing finer than an hour: an index per minute would bury the cluster in shards. */
const INDEX_TIME_TOKENS = new Set(['Y', 'm', 'd', 'H', 'j', '%']);
const MAX_NAME_BYTES = 255;
const MAX_VALUE_BYTES = 64;
const DAY_MS = 86_400_000;
/** Digits each time token of an index name renders (years are 1970-9999, clock.ts). */
const TIME_DIGITS: Readonly<Record<string, number>> = { Y: 4, m: 2, d: 2, H: 2, j: 3 };
/** Stands for one digit of a time token in a Segment: a control character, which no literal part may hold. */
const DIGIT = '\u0000';
const ILLEGAL = /[\\/*?"<>|,#:\s\p{Cc}]/gu;

export class IndexTemplateError extends Error {}

function checkPlaceholder({ kind, name, at }: Placeholder): void {
  if (kind === 'field' && !(INDEX_FIELDS as readonly string[]).includes(name)) {
    throw new IndexTemplateError(`unknown placeholder "{${name}}" at character ${at}: use ${INDEX_FIELDS.map((f) => `{${f}}`).join(', ')}`);
  }
  if (kind === 'time' && !INDEX_TIME_TOKENS.has(name))
    throw new IndexTemplateError(`unsupported time field "%${name}" at character ${at}: use %Y, %m, %d, %H, %j or %%`);
}

/** Parses an index template; every problem is an IndexTemplateError (a config error, not a crash). */
export function parseIndexTemplate(template: string): TemplatePart[] {
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(template, { check: checkPlaceholder });
  } catch (err) {
    if (err instanceof IndexTemplateError) throw err;
    throw new IndexTemplateError((err as Error).message);
  }
  for (const p of parts) {
    if (p.kind === 'literal' && sanitizeValue(p.text, Infinity) !== p.text) {
      throw new IndexTemplateError(
        `"${p.text}" is not allowed in an index name: use lowercase letters, digits, "-", "_", "." and "+" only`,
      );
    }
  }
  const first = parts[0];
  if (first?.kind === 'literal' && /^[-_+]/.test(first.text))
    throw new IndexTemplateError('an index name may not start with "-", "_" or "+"');
  if (parts.length === 0) throw new IndexTemplateError('the index template is empty');
  return parts;
}

/** Makes one untrusted value safe inside an index name; '' when nothing is left (the template then renders the fallback). */
export function sanitizeValue(value: string, maxBytes = MAX_VALUE_BYTES): string {
  const clean = value.toLowerCase().replace(ILLEGAL, '_');
  return truncateBytes(clean, maxBytes);
}

/** Applies the whole-name rules: no leading `-_+`, not `.`/`..`, at most 255 bytes. */
export function sanitizeIndexName(name: string): string {
  let out = name
    .toLowerCase()
    .replace(ILLEGAL, '_')
    .replace(/^[-_+]+/, '');
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

/**
 * What lies between two values of a template (or before the first, after the last): its
 * literal text, with DIGIT where a time token's digits go. Fixed width, as every time
 * token renders a fixed number of digits.
 */
type Segment = string;

/**
 * Renders index names for events. name() is core's renderCached: per event a map lookup
 * per field and one for the time bucket, and the same string object for every event of
 * one index, so the sanitizing above runs once per distinct name, not per event. With
 * `distinct` (the sink's `index_max_distinct`; 0 = no limit), value combinations beyond it go to one
 * overflow index (`logs-_other-2024.03.09`): retention and the wildcard pattern cover it.
 *
 * A combination is counted by the name it makes with every time digit zeroed
 * (`logs-checkout-0000.00.00`): what an existing index's name shows of it, so `seed` can
 * admit the combinations of the indices that exist and a live event of one compares equal,
 * whatever sanitizing did to its values (`Checkout` and `checkout` are one index, one
 * combination).
 */
export class IndexNamer {
  private readonly names: EventTemplate;
  readonly hasTime: boolean;
  readonly daily: boolean;
  private readonly wildcard: string;
  private readonly dayPattern: { re: RegExp; tokens: string[] };
  private readonly segments: readonly Segment[];
  private readonly limit: DistinctLimit | undefined;

  constructor(
    readonly template: string,
    readonly timeZone = 'UTC',
    distinct?: Omit<DistinctLimitOptions, 'option' | 'key'>,
  ) {
    const parts = parseIndexTemplate(template);
    this.segments = segmentsOf(parts);
    this.limit =
      distinct && distinct.maxDistinct > 0
        ? new DistinctLimit({ ...distinct, option: 'index', key: (values) => this.zeroedName(values.split('\u0000')) })
        : undefined;
    this.names = new EventTemplate(template, {
      timeZone,
      sanitize: (v) => sanitizeValue(v),
      finish: sanitizeIndexName,
      limit: this.limit,
    });
    const tokens = new Set(parts.flatMap((p) => (p.kind === 'time' ? [p.token] : [])));
    this.hasTime = tokens.size > 0;
    this.daily = tokens.has('Y') && (tokens.has('j') || (tokens.has('m') && tokens.has('d')));
    this.wildcard = parts
      .map((p) => (p.kind === 'literal' ? p.text : '*'))
      .join('')
      .replace(/\*+/g, '*');
    this.dayPattern = dayPattern(parts);
  }

  /** `at`: the time to name the index by instead of the event's (the sink's time window). */
  name(event: LogEvent, at?: number): string {
    return this.names.renderCached(event, at);
  }

  /** Elasticsearch wildcard pattern matching every name this template can produce. */
  pattern(): string {
    return this.wildcard;
  }

  /**
   * Parses the day (as a UTC midnight in ms, in the template's time zone calendar) out
   * of an index name this template produced; undefined for names it did not produce.
   */
  dayOf(index: string): number | undefined {
    const m = this.dayPattern.re.exec(index);
    if (!m || !this.daily) return undefined;
    const got: Record<string, number> = {};
    for (const [i, t] of this.dayPattern.tokens.entries()) got[t] = Number(m[i + 1]);
    const year = got.Y!;
    if (got.j !== undefined && got.m === undefined) return Date.UTC(year, 0, got.j);
    return Date.UTC(year, got.m! - 1, got.d!);
  }

  /** Today's calendar day in the template's time zone, as a UTC midnight in ms. */
  dayNumber(now: number): number {
    return this.names.clock.day(now) * DAY_MS;
  }

  /**
   * Whether the name starts with a value (`{service}-%Y.%m.%d`). index_max_distinct's
   * overflow index then cannot be told from a service's: its `_other` may not start a name,
   * and without the `_` it is the index of a service named `other`.
   */
  get startsWithValue(): boolean {
    return this.segments.length > 1 && this.segments[0] === '';
  }

  /** Whether index_max_distinct applies: value combinations are counted, and `seed` matters. */
  get capped(): boolean {
    return this.limit !== undefined && this.segments.length > 1;
  }

  /**
   * Admits the value combinations the names of existing indices (or data streams) show,
   * before any event is named: all of them, even beyond the cap, and later combinations
   * while fewer than the cap are known. A name this template cannot have made (another
   * writer's, `logs-search-x.y.z`) and the overflow index are no combination. Returns
   * how many combinations were admitted.
   */
  seed(existing: Iterable<string>): number {
    if (!this.limit || !this.capped) return 0;
    const overflow = this.zeroedName(this.segments.slice(1).map(() => sanitizeValue(OVERFLOW)));
    const keys = new Set<string>();
    for (const name of existing) for (const key of this.zeroedShapes(name)) if (key !== overflow) keys.add(key);
    this.limit.seed(keys);
    return keys.size;
  }

  /** The name a combination of (sanitized) values makes, its time digits zeroed: what it is counted as. */
  private zeroedName(values: readonly string[]): string {
    let name = this.segments[0]!;
    for (let i = 1; i < this.segments.length; i++) name += values[i - 1]! + this.segments[i]!;
    return sanitizeIndexName(name.replaceAll(DIGIT, '0'));
  }

  /**
   * `name` with its time digits zeroed, once for each way this template can have made it.
   * The first and last segments sit at the ends; each one between has a value (at least
   * one character) on either side. Where it sits decides which digits are the time's only
   * when it has time tokens: one without is put at its first fit, which leaves the most
   * room for the rest, and one with them at each fit in turn. So a name is read in one
   * pass unless time tokens sit between two values (never in `logs-{service}-%Y.%m.%d`),
   * and two readings are kept only where the name itself is ambiguous: under
   * `logs-{service}-%Y.%m.%d-{host}`, `logs-a-2024.01.01-2024.03.09-web` is service `a`
   * or service `a-2024.01.01`, and both are admitted.
   */
  private zeroedShapes(name: string): Set<string> {
    const shapes = new Set<string>();
    const segs = this.segments;
    const k = segs.length - 1;
    const lastAt = name.length - segs[k]!.length;
    if (!fits(segs[0]!, name, 0) || lastAt < segs[0]!.length + 1 || !fits(segs[k]!, name, lastAt)) return shapes;
    const at = new Array<number>(segs.length).fill(0);
    at[k] = lastAt;
    const place = (i: number, from: number): void => {
      if (i === k) {
        if (from <= lastAt) shapes.add(zeroed(name, segs, at));
        return;
      }
      const seg = segs[i]!;
      for (let pos = from; pos + seg.length < lastAt; pos++) {
        if (!fits(seg, name, pos)) continue;
        at[i] = pos;
        place(i + 1, pos + seg.length + 1);
        if (!seg.includes(DIGIT)) return;
      }
    };
    place(1, segs[0]!.length + 1);
    return shapes;
  }
}

function segmentsOf(parts: readonly TemplatePart[]): Segment[] {
  const segments: Segment[] = [''];
  for (const p of parts) {
    if (p.kind === 'field') segments.push('');
    else segments[segments.length - 1] += p.kind === 'literal' ? p.text : DIGIT.repeat(TIME_DIGITS[p.token]!);
  }
  return segments;
}

/** Whether `seg` matches `name` at `at`: its literal text exactly, a digit where it has DIGIT. */
function fits(seg: Segment, name: string, at: number): boolean {
  if (at + seg.length > name.length) return false;
  for (let j = 0; j < seg.length; j++) {
    const want = seg.charCodeAt(j);
    const got = name.charCodeAt(at + j);
    if (want === 0 ? got < 48 || got > 57 : want !== got) return false;
  }
  return true;
}

/** `name` with the digits zeroed where the segments placed at `at` have DIGIT. */
function zeroed(name: string, segs: readonly Segment[], at: readonly number[]): string {
  const chars = name.split('');
  for (const [i, seg] of segs.entries()) for (let j = 0; j < seg.length; j++) if (seg.charCodeAt(j) === 0) chars[at[i]! + j] = '0';
  return chars.join('');
}

function dayPattern(parts: readonly TemplatePart[]): { re: RegExp; tokens: string[] } {
  const tokens: string[] = [];
  const source = parts
    .map((p) => {
      if (p.kind === 'literal') return p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (p.kind === 'field') return '.+?';
      tokens.push(p.token);
      return p.token === 'Y' ? '(\\d{4})' : p.token === 'j' ? '(\\d{3})' : '(\\d{2})';
    })
    .join('');
  return { re: new RegExp(`^${source}$`), tokens };
}

import { type FieldValue, isValidEventTime, type LogEvent } from '../event.js';
import { DAY_MS, formatTimeToken, GRANULARITY_MS, ZonedClock } from './clock.js';
import { type DistinctLimit, OVERFLOW } from './distinct.js';
import { fieldText } from './field-path.js';
import { MISSING, type ParseOptions, parseTemplate, type TemplatePart } from './parse.js';

/**
 * Rendering a parsed template for an event. It is on the hot path of every sink that
 * partitions and of the agent's producer, so nothing here formats a date or sanitizes a
 * value per event: renderCached remembers each name by the raw values it was made from
 * and by the time bucket, and hands back the same string object for every event of one
 * name (a caller grouping by it hashes no new string per event).
 */

export interface EventTemplateOptions extends ParseOptions {
  /** IANA zone of the `%` tokens (default UTC). */
  timeZone?: string;
  /** Turns a value into what may appear in the name (a safe path segment, an index name part); '' means nothing usable, and the fallback is used. Default: as is. */
  sanitize?: (value: string) => string;
  /**
   * Turns the whole rendered name into what may be used (rules about the name as a whole,
   * such as a length cap), given the field values it was made of (as they appear in it, in
   * order); renderCached caches its result, so it runs once per distinct name.
   */
  finish?: (name: string, values: readonly string[]) => string;
  /** `max_distinct`: names beyond it are made with the overflow value (distinct.ts). */
  limit?: DistinctLimit;
}

type FieldPart = Extract<TemplatePart, { kind: 'field' }>;

/** A remembered name made with the overflow value, and the name it would have had (for the log). */
interface Overflowed {
  name: string;
  would: string;
}

/** Remembered names at most, before the memo starts over (a bound against values that never repeat). */
const MEMO_MAX = 100_000;
const SANITIZED_MAX = 10_000;
const BUCKETS_MAX = 10_000;

/** A compiled template: renderCached(event) is cheap enough to call for every event. */
export class EventTemplate {
  readonly parts: readonly TemplatePart[];
  readonly clock: ZonedClock;
  private readonly fields: readonly FieldPart[];
  private readonly getters: readonly ((e: LogEvent) => FieldValue | undefined)[];
  private readonly granularity: number;
  private readonly hasTime: boolean;
  private readonly sanitize: ((value: string) => string) | undefined;
  private readonly finish: ((name: string, values: readonly string[]) => string) | undefined;
  private readonly limit: DistinctLimit | undefined;
  private readonly sanitized = new Map<string, string>();
  private bucket = Number.NaN;
  private timeText: string[] = [];
  private readonly buckets = new Map<number, string[]>();
  private rendered = new Map<unknown, unknown>();
  private renderedCount = 0;

  constructor(
    readonly text: string,
    options: EventTemplateOptions = {},
  ) {
    this.parts = parseTemplate(text, options);
    this.clock = new ZonedClock(options.timeZone ?? 'UTC');
    this.sanitize = options.sanitize;
    this.finish = options.finish;
    this.limit = options.limit;
    this.fields = this.parts.filter((p): p is FieldPart => p.kind === 'field');
    this.getters = this.fields.map((p) => p.path.get);
    this.granularity = Math.min(DAY_MS, ...this.parts.map((p) => (p.kind === 'time' ? GRANULARITY_MS[p.token] : DAY_MS)));
    this.hasTime = this.parts.some((p) => p.kind === 'time');
  }

  /**
   * render(), memoized on the raw field values and the time bucket (a tree of Maps, one
   * level per field).
   */
  /** `at`: the time to name the event by instead of its own (a sink's time window, time-window.ts). */
  renderCached(event: LogEvent, at?: number): string {
    let node = this.rendered;
    for (const get of this.getters) {
      const raw = get(event);
      const key = typeof raw === 'object' && raw !== null ? JSON.stringify(raw) : raw;
      let next = node.get(key) as Map<unknown, unknown> | undefined;
      if (next === undefined) node.set(key, (next = new Map()));
      node = next;
    }
    // Names without time tokens (topics, keys) do not read the event's time: this runs per record.
    const time = this.hasTime ? (at ?? timeOf(event)) : 0;
    const bucket = this.hasTime ? Math.floor(this.clock.local(time) / this.granularity) : 0;
    let leaf = node.get(bucket) as string | Overflowed | undefined;
    if (leaf === undefined) {
      if (this.renderedCount >= MEMO_MAX) {
        this.rendered = new Map();
        this.renderedCount = 0;
        return this.renderCached(event, at);
      }
      leaf = this.renderLeaf(event, time);
      node.set(bucket, leaf);
      this.renderedCount++;
    }
    return this.named(leaf);
  }

  render(event: LogEvent, at?: number): string {
    return this.named(this.renderLeaf(event, at ?? timeOf(event)));
  }

  /** One field value as it appears in names: sanitized, or the placeholder's fallback when missing or nothing usable is left. */
  private value(raw: FieldValue | undefined, fallback = MISSING): string {
    const text = fieldText(raw);
    const safe = text === undefined ? '' : this.clean(text);
    return safe !== '' ? safe : this.clean(fallback);
  }

  private named(leaf: string | Overflowed): string {
    if (typeof leaf === 'string') return leaf;
    this.limit!.overflowed(this.text, leaf.would);
    return leaf.name;
  }

  private renderLeaf(event: LogEvent, time: number): string | Overflowed {
    const values = this.fields.map((p) => this.value(p.path.get(event), p.fallback));
    const name = this.compose(time, values);
    if (this.limit === undefined || values.length === 0 || this.limit.admit(values.join('\u0000'))) return name;
    return {
      name: this.compose(
        time,
        values.map(() => this.value(OVERFLOW)),
      ),
      would: name,
    };
  }

  private compose(time: number, values: readonly string[]): string {
    let out = '';
    let t = 0;
    let f = 0;
    for (const part of this.parts) {
      if (part.kind === 'literal') out += part.text;
      else if (part.kind === 'field') out += values[f++];
      else {
        if (t === 0) this.timeFor(time);
        out += this.timeText[t++];
      }
    }
    return this.finish ? this.finish(out, values) : out;
  }

  private clean(text: string): string {
    if (!this.sanitize) return text;
    let safe = this.sanitized.get(text);
    if (safe === undefined) {
      safe = this.sanitize(text);
      if (this.sanitized.size >= SANITIZED_MAX) this.sanitized.clear();
      this.sanitized.set(text, safe);
    }
    return safe;
  }

  private timeFor(ms: number): void {
    const local = this.clock.local(ms);
    const bucket = Math.floor(local / this.granularity);
    if (bucket === this.bucket) return;
    this.bucket = bucket;
    let text = this.buckets.get(bucket);
    if (text === undefined) {
      text = [];
      for (const part of this.parts) if (part.kind === 'time') text.push(formatTimeToken(part.token, local));
      if (this.buckets.size >= BUCKETS_MAX) this.buckets.clear();
      this.buckets.set(bucket, text);
    }
    this.timeText = text;
  }
}

/**
 * An event time outside the years 1970-9999 (the wire decoder already replaces those with
 * the read time; this is for events made elsewhere) names the event's 1970-01-01, never
 * `NaN-NaN-NaN` or a five-digit year.
 */
function timeOf(event: LogEvent): number {
  return isValidEventTime(event.timestamp) ? event.timestamp : 0;
}

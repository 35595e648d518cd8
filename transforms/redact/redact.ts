import { createHmac } from 'node:crypto';
import type { FieldValue, LogEvent } from '../../core/event.js';
import { counter } from '../../core/metrics.js';
import { globMatcher } from '../../core/template.js';
import type { EventTest } from '../conditions.js';
import { compileRegex, type SafeRegex } from '../regex.js';
import { applyEach, compileWhen, metricName, type Side, type Transform, transformSpec } from '../transform.js';
import { BUILT_IN, type Detector, regexDetector, type Span } from './detectors.js';
import { type RedactOptions, redactOptions } from './options.js';

const redactions = counter('sluice_transform_redactions_total', 'values a redact transform hid, by detector', ['component', 'detector']);

/**
 * `type: redact`: finds secrets and personal data in the message and in the string values
 * of fields (at any depth) and puts a mask in their place, or a keyed hash (HMAC-SHA256,
 * 64 bits shown) so that equal values stay equal and can still be joined on without being
 * readable. Fields named in `secret_fields` are hidden whole; fields in `allow_fields` are
 * never touched.
 */
export class RedactTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  private readonly detectors: { detector: Detector; gate: ((text: string) => boolean) | undefined }[];
  /** Passes every value one of the detectors could find something in; undefined: run them on every value. */
  private readonly gate: ((text: string) => boolean) | undefined;
  private readonly secretFields: Set<string>;
  /** ASCII first characters (both cases) of the secret field names: a key starting with another is no secret, without a lookup. */
  private readonly secretFirst = new Uint8Array(128);
  /** Field names already checked against secretFields (lower-casing each name per event costs). */
  private readonly secretKeys = new Map<string, boolean>();
  private readonly allowed: ((path: string) => boolean)[];
  private readonly onMessage: boolean;
  private readonly onFields: boolean;
  private readonly replace: (value: string, detector: string) => string;
  private readonly counts = new Map<string, { inc(n?: number): void }>();
  private readonly spans: Span[] = [];

  constructor(
    readonly name: string,
    o: RedactOptions,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    const detectors = [
      ...o.detectors.map((d) => BUILT_IN[d](o.max_match_bytes)),
      ...Object.entries(o.patterns).map(([name, source]) => regexDetector(name, source, o.max_match_bytes)),
    ];
    const test = (gate: string | ((text: string) => boolean)) => {
      if (typeof gate !== 'string') return gate;
      const re = compileRegex(gate, o.max_match_bytes);
      return (text: string) => re.test(text);
    };
    this.detectors = detectors.map((detector) => ({ detector, gate: detector.gate === undefined ? undefined : test(detector.gate) }));
    this.gate = detectors.every((d) => d.gate !== undefined)
      ? joinGates(
          detectors.map((d) => d.gate!),
          o.max_match_bytes,
        )
      : undefined;
    this.secretFields = new Set(o.secret_fields.map((f) => f.toLowerCase()));
    for (const f of this.secretFields) {
      // A key whose first character is ASCII lower-cases to a name starting with its ASCII lower case.
      const c = f.charCodeAt(0);
      if (c >= 128) continue;
      this.secretFirst[c] = 1;
      if (c >= 0x61 && c <= 0x7a) this.secretFirst[c - 0x20] = 1;
    }
    this.allowed = o.allow_fields.map((f) => (f.includes('*') ? globMatcher(f) : (path: string) => path === f));
    this.onMessage = o.on.includes('message');
    this.onFields = o.on.includes('fields');
    this.replace = replacer(o);
  }

  apply(events: LogEvent[]): LogEvent[] {
    return applyEach(events, this.when, this.each);
  }

  // Made once, not per batch: V8 optimizes each new closure anew, and a batch would run partly unoptimized.
  private readonly each = (e: LogEvent): boolean => {
    if (this.onMessage) e.message = this.redactText(e.message);
    if (this.onFields) this.redactObject(e.fields, '');
    return true;
  };

  /** The text with every detected span replaced; the same string when nothing was found. */
  redactText(text: string): string {
    // Nothing a detector finds is shorter than "a@b.io"; most field values are ("info", "web-1").
    if (this.gate !== undefined && (text.length < 6 || !this.gate(text))) return text;
    const spans = this.spans;
    spans.length = 0;
    for (const { detector, gate } of this.detectors) if (gate === undefined || gate(text)) detector.find(text, spans);
    if (spans.length === 0) return text;
    if (spans.length > 1) spans.sort((a, b) => a.start - b.start || b.end - a.end);
    let out = '';
    let at = 0;
    for (const s of spans) {
      if (s.start < at) continue; // overlaps one already replaced
      out += text.slice(at, s.start) + this.replace(text.slice(s.start, s.end), s.detector);
      this.count(s.detector);
      at = s.end;
    }
    return out + text.slice(at);
  }

  private redactObject(obj: Record<string, FieldValue>, prefix: string): void {
    for (const key in obj) {
      const v = obj[key];
      // Not inline: a closure over `key` here would make V8 allocate a context for every key of every event.
      if (this.allowed.length > 0 && this.isAllowed(prefix, key)) continue;
      if (v === null || v === undefined) continue;
      if (this.isSecret(key)) {
        if (typeof v === 'string' && v === '') continue;
        obj[key] = this.replace(typeof v === 'string' ? v : JSON.stringify(v), 'secret');
        this.count('secret');
        continue;
      }
      if (typeof v === 'string') {
        const out = this.redactText(v);
        if (out !== v) obj[key] = out;
      } else if (typeof v === 'object') this.redactValue(v, prefix ? `${prefix}.${key}` : key);
    }
  }

  private redactValue(v: FieldValue[] | Record<string, FieldValue>, path: string): void {
    if (!Array.isArray(v)) {
      this.redactObject(v, path);
      return;
    }
    for (let i = 0; i < v.length; i++) {
      const item = v[i]!;
      if (typeof item === 'string') v[i] = this.redactText(item);
      else if (typeof item === 'object' && item !== null) this.redactValue(item, path);
    }
  }

  private isAllowed(prefix: string, key: string): boolean {
    const path = prefix ? `${prefix}.${key}` : key;
    for (const allowed of this.allowed) if (allowed(path) || allowed(key)) return true;
    return false;
  }

  private isSecret(key: string): boolean {
    const c = key.charCodeAt(0);
    if (c < 128 && this.secretFirst[c] === 0) return false;
    let secret = this.secretKeys.get(key);
    if (secret === undefined) {
      secret = this.secretFields.has(key.toLowerCase());
      if (this.secretKeys.size >= 10_000) this.secretKeys.clear();
      this.secretKeys.set(key, secret);
    }
    return secret;
  }

  private count(detector: string): void {
    let c = this.counts.get(detector);
    if (!c) this.counts.set(detector, (c = redactions.labels({ component: metricName(this.name), detector })));
    c.inc();
  }
}

/** One test for every gate: the regex ones joined into one regex (one scan), then the scans. */
function joinGates(gates: (string | ((text: string) => boolean))[], maxMatchBytes: number): (text: string) => boolean {
  const sources = gates.filter((g): g is string => typeof g === 'string');
  const scans = gates.filter((g): g is (text: string) => boolean => typeof g !== 'string');
  const re: SafeRegex | undefined = sources.length > 0 ? compileRegex(sources.join('|'), maxMatchBytes) : undefined;
  if (scans.length === 0) return (text) => re!.test(text);
  if (re === undefined && scans.length === 1) return scans[0]!;
  if (re !== undefined && scans.length === 1) {
    const scan = scans[0]!;
    return (text) => re.test(text) || scan(text);
  }
  return (text) => {
    if (re?.test(text)) return true;
    for (const scan of scans) if (scan(text)) return true;
    return false;
  };
}

function replacer(o: RedactOptions): (value: string, detector: string) => string {
  const template = o.replacement ?? (o.mode === 'hash' ? '[REDACTED:{detector}:{hash}]' : '[REDACTED:{detector}]');
  const [before, after] = template.split('{detector}', 2) as [string, string | undefined];
  if (o.mode === 'mask') {
    // One string per detector, made once.
    const masks = new Map<string, string>();
    return (_value, detector) => {
      let m = masks.get(detector);
      if (m === undefined) masks.set(detector, (m = after === undefined ? before : before + detector + after));
      return m;
    };
  }
  const key = o.hash_key!;
  return (value, detector) => {
    const hash = createHmac('sha256', key).update(value).digest('hex').slice(0, 16);
    return template.replaceAll('{detector}', detector).replaceAll('{hash}', hash);
  };
}

export const redactTransformSpec = transformSpec(RedactTransform, redactOptions, {
  type: 'redact',
  description: 'hides emails, card numbers, tokens, keys (and optionally IPs) or your patterns: masked or keyed-hashed',
  fieldsSet: () => [],
});

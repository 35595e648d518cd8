import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FieldValue, LogEvent } from '../core/event.js';
import { EventTemplate, parseTemplate } from '../core/template.js';

/** The `key` option of throttle and sample: a template naming the group an event belongs to. */
export const keyTemplate = () =>
  z.string().superRefine((v, ctx) => {
    try {
      parseTemplate(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/**
 * Keys longer than this (UTF-16 units) are kept as their head and a hash of the whole. Keys
 * come from log data and are kept by the thousand (throttle's budgets, the template's memo):
 * their number bounds that memory only when their length is bounded too.
 */
export const MAX_KEY_LENGTH = 256;
const HASH_LENGTH = 16;

/** The key itself when short; else its head, `#` and the first hex digits of its SHA-256. */
function boundedKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  let end = MAX_KEY_LENGTH - HASH_LENGTH - 1;
  const last = key.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // not between the halves of a surrogate pair
  // A copy: V8's slice of a long string keeps the whole string alive.
  const head = Buffer.from(key.slice(0, end), 'utf16le').toString('utf16le');
  return `${head}#${createHash('sha256').update(key).digest('hex').slice(0, HASH_LENGTH)}`;
}

interface CompiledKey {
  template: EventTemplate;
  getters: ((e: LogEvent) => FieldValue | undefined)[];
}

function compileKey(text: string): CompiledKey {
  // No `sanitize`: the template would keep every value it cleaned in a cache, long ones too.
  const template = new EventTemplate(text, { timeZone: 'UTC', finish: boundedKey });
  return { template, getters: template.parts.flatMap((p) => (p.kind === 'field' ? [p.path.get] : [])) };
}

/**
 * Whether a value would make renderCached's memo (which remembers names by the values they are
 * made of) hold a long text: such keys are rendered afresh instead.
 */
function unbounded(v: FieldValue | undefined): boolean {
  return typeof v === 'string' ? v.length > MAX_KEY_LENGTH : typeof v === 'object' && v !== null;
}

/** Renders a key template per event (memoized by EventTemplate), values as they are, bounded by boundedKey. */
export function keyOf(text: string): (e: LogEvent) => string {
  const { template, getters } = compileKey(text);
  return (e) => {
    for (let i = 0; i < getters.length; i++) if (unbounded(getters[i]!(e))) return template.render(e);
    return template.renderCached(e);
  };
}

/**
 * keyOf for keys that group events: undefined for an event lacking a value the key is made of
 * (absent, null or empty), which would otherwise share the one key `unknown` with all such
 * events.
 */
export function presentKeyOf(text: string): (e: LogEvent) => string | undefined {
  const { template, getters } = compileKey(text);
  return (e) => {
    let cached = true;
    for (let i = 0; i < getters.length; i++) {
      const v = getters[i]!(e);
      if (v === undefined) return undefined;
      if (unbounded(v)) cached = false;
    }
    return cached ? template.renderCached(e) : template.render(e);
  };
}

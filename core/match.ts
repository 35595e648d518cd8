import { z } from 'zod';
import type { FieldValue, LogEvent } from './event.js';
import { compileSafe, patternProblem as regexProblem } from './regex.js';

/**
 * Conditions on an event, one vocabulary for every place that selects events: the
 * collector's `routes:` (`match:`), and the transforms' `when:`, `filter` and the
 * exclusions of `throttle` and `sample`.
 *
 *   { service: payments, level: [error, fatal], "fields.team": "search-*", message: "/timeout/" }
 *
 * Every key must hold; a list means any of its patterns. A pattern is exact text, a glob
 * with `*`, a `/regular expression/`, or any of those negated with a leading `!`.
 */

/** What a match key may name: the event's own fields, or one of its `fields` (nested objects by dots). */
export const MATCH_KEY = /^(service|module|host|level|message|source\.kind|fields(\.[^.]+)+)$/;

/** A pattern's problem for a config error, or undefined. Regexes are held to core/regex.ts's rules. */
export function patternProblem(pattern: string): string | undefined {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  if (body.length > 1 && body.startsWith('/') && body.endsWith('/')) return regexProblem(body.slice(1, -1));
  return undefined;
}

const pattern = z.string().superRefine((v, ctx) => {
  const problem = patternProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export type MatchSpec = Record<string, string | string[]>;

/** The option schema of a match map; keys checked against MATCH_KEY, patterns compiled. */
export const matchSchema = () =>
  z.record(z.string(), z.union([pattern, z.array(pattern).min(1)])).superRefine((m, ctx) => {
    for (const key of Object.keys(m)) {
      if (!MATCH_KEY.test(key))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `cannot match on "${key}": use service, module, host, level, message, source.kind or fields.NAME`,
        });
    }
  });

export type EventTest = (event: LogEvent) => boolean;

/** Compiles a match map (already validated) into a test; an empty map matches every event. */
export function compileMatch(match: MatchSpec): EventTest {
  const tests = Object.entries(match).map(([key, patterns]) => {
    const get = eventValueGetter(key);
    const sources = Array.isArray(patterns) ? patterns : [patterns];
    const list = (key === 'level' ? sources.map((p) => p.toLowerCase()) : sources).map(compilePattern);
    const positive = list.filter((p) => !p.negated);
    const negative = list.filter((p) => p.negated);
    // Any positive pattern (or none given), and no negated one.
    return (event: LogEvent) => {
      const value = get(event);
      if (positive.length > 0 && !positive.some((p) => p.test(value))) return false;
      return !negative.some((p) => p.test(value));
    };
  });
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  return (event) => tests.every((t) => t(event));
}

/** Reads a match key (MATCH_KEY) from an event as text: numbers as digits, objects as JSON. */
export function eventValueGetter(key: string): (event: LogEvent) => string | undefined {
  switch (key) {
    case 'service':
      return (e) => e.service;
    case 'module':
      return (e) => e.module;
    case 'host':
      return (e) => e.host;
    case 'message':
      return (e) => e.message;
    case 'source.kind':
      return (e) => e.source.kind;
    case 'level':
      // Levels are compared case-insensitively: WARN, warn and Warn are one level.
      return (e) => e.level?.toLowerCase();
    default: {
      const path = key.split('.').slice(1);
      const literal = path.join('.');
      return (e) => {
        // A flat dotted key ("log.parse_error", "container.name") first, then nested objects.
        const flat = e.fields[literal];
        if (flat !== undefined) return asText(flat);
        let cur: FieldValue | undefined = e.fields;
        for (const step of path) cur = typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? cur[step] : undefined;
        return asText(cur);
      };
    }
  }
}

function asText(v: FieldValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export interface Pattern {
  negated: boolean;
  test(value: string | undefined): boolean;
}

/**
 * `text` exact, `te*t` glob (`*` any run of characters), `/re/` regular expression, `!…`
 * negation. A missing value matches nothing positive, so `level: error` never takes an
 * event without a level, and `level: "!debug"` does.
 */
export function compilePattern(source: string): Pattern {
  const negated = source.startsWith('!');
  const body = negated ? source.slice(1) : source;
  let test: (v: string) => boolean;
  if (body.length > 1 && body.startsWith('/') && body.endsWith('/')) {
    const re = compileSafe(body.slice(1, -1));
    test = (v) => re.test(v);
  } else if (body.includes('*')) {
    test = globTest(body);
  } else {
    test = (v) => v === body;
  }
  return { negated, test: (v) => v !== undefined && test(v) };
}

/**
 * A glob with `*` as a test, without a regex: the literal pieces are found in order with
 * indexOf, which is linear in the value whatever the glob says.
 */
export function globTest(glob: string): (v: string) => boolean {
  const pieces = glob.split('*');
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  return (v) => {
    if (v.length < first.length + last.length || !v.startsWith(first) || !v.endsWith(last)) return false;
    let at = first.length;
    const end = v.length - last.length;
    for (const piece of middle) {
      const i = v.indexOf(piece, at);
      if (i < 0 || i + piece.length > end) return false;
      at = i + piece.length;
    }
    return true;
  };
}

import type { FieldValue, LogEvent } from '../../core/event.js';

/** One rule: all `match` conditions hold => the event goes to `sinks`. Shapes config/routing.ts's `routes:`. */
export interface RouteRule {
  name?: string;
  match: Record<string, string | string[]>;
  sinks: string[];
  continue: boolean;
}

export interface Routes {
  rules: RouteRule[];
  /** Sinks for events no rule accepted; absent: those events are unrouted (dead-letter). */
  default?: string[];
}

export interface Routed {
  /** Per sink, its events in batch order. */
  bySink: Map<string, LogEvent[]>;
  /** Events no rule accepted and no default took. */
  unrouted: LogEvent[];
}

type Test = (event: LogEvent) => boolean;

/**
 * Sends each event to the sinks of the rules it matches. Rules are tried in order; the first
 * match wins unless it says `continue` (then later rules may add sinks: fan-out). An event
 * no rule takes goes to the default sinks, or is returned as unrouted for the dead-letter.
 * Without routes at all every sink gets every event.
 */
export class Router {
  private readonly rules: { test: Test; sinks: string[]; continue: boolean }[];
  private readonly fallback: string[] | undefined;

  constructor(routes: Routes | undefined, sinkNames: readonly string[]) {
    if (!routes) {
      this.rules = [];
      this.fallback = [...sinkNames];
      return;
    }
    const known = new Set(sinkNames);
    for (const name of [...routes.rules.flatMap((r) => r.sinks), ...(routes.default ?? [])]) {
      if (!known.has(name)) throw new Error(`route names unknown sink "${name}"`);
    }
    this.rules = routes.rules.map((r) => ({ test: compileMatch(r.match), sinks: [...new Set(r.sinks)], continue: r.continue }));
    this.fallback = routes.default ? [...new Set(routes.default)] : undefined;
  }

  route(events: readonly LogEvent[]): Routed {
    const bySink = new Map<string, LogEvent[]>();
    const unrouted: LogEvent[] = [];
    const add = (sink: string, event: LogEvent) => {
      let list = bySink.get(sink);
      if (!list) bySink.set(sink, (list = []));
      list.push(event);
    };
    // Sinks an event was already given to, so overlapping fan-out rules do not write it twice.
    const given = new Set<string>();
    for (const event of events) {
      given.clear();
      for (const rule of this.rules) {
        if (!rule.test(event)) continue;
        for (const s of rule.sinks) given.add(s);
        if (!rule.continue) break;
      }
      if (given.size === 0 && this.fallback) for (const s of this.fallback) given.add(s);
      if (given.size === 0) unrouted.push(event);
      else for (const s of given) add(s, event);
    }
    return { bySink, unrouted };
  }
}

function compileMatch(match: Record<string, string | string[]>): Test {
  const tests = Object.entries(match).map(([key, patterns]) => {
    const get = getter(key);
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
  return (event) => tests.every((t) => t(event));
}

function getter(key: string): (event: LogEvent) => string | undefined {
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
      return (e) => {
        const v = asText(e.fields.level);
        return v === undefined ? undefined : v.toLowerCase();
      };
    default: {
      const path = key.split('.').slice(1);
      return (e) => {
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

interface Pattern {
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
    const re = new RegExp(body.slice(1, -1));
    test = (v) => re.test(v);
  } else if (body.includes('*')) {
    const re = new RegExp(
      `^${body
        .split('*')
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
      's',
    );
    test = (v) => re.test(v);
  } else {
    test = (v) => v === body;
  }
  return { negated, test: (v) => v !== undefined && test(v) };
}

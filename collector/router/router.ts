import type { LogEvent } from '../../core/event.js';
import { compilePattern, FieldPathError, fieldText, parseFieldPath, PatternError } from '../../core/template.js';

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
  /** Bytes of a value a `/regular expression/` sees at most (core/template/match.ts's default when absent). */
  max_match_bytes?: number;
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
 *
 * Match keys are field paths and their patterns value patterns, both core/template.ts's:
 * the same `fields.a.b` as in topic and path templates, matched in time linear in the value.
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
    this.rules = routes.rules.map((r, i) => ({
      test: compileMatch(r.match, routes.max_match_bytes, r.name ?? `rule #${i + 1}`),
      sinks: [...new Set(r.sinks)],
      continue: r.continue,
    }));
    this.fallback = routes.default ? [...new Set(routes.default)] : undefined;
  }

  route(events: readonly LogEvent[]): Routed {
    const bySink = new Map<string, LogEvent[]>();
    // No rules: every event goes to the same sinks, a copy of the batch each (no work per event).
    if (this.rules.length === 0) {
      if (!this.fallback || this.fallback.length === 0) return { bySink, unrouted: events.slice() };
      for (const s of this.fallback) bySink.set(s, events.slice());
      return { bySink, unrouted: [] };
    }
    const unrouted: LogEvent[] = [];
    // Sinks an event was already given to, so overlapping fan-out rules do not write it twice.
    // An array, not a Set: an event has a sink or two, and iterating a Set cost an object per event.
    const given: string[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      given.length = 0;
      for (const rule of this.rules) {
        if (!rule.test(event)) continue;
        for (const s of rule.sinks) if (!given.includes(s)) given.push(s);
        if (!rule.continue) break;
      }
      if (given.length === 0 && this.fallback) for (const s of this.fallback) given.push(s);
      if (given.length === 0) unrouted.push(event);
      else
        for (const s of given) {
          const list = bySink.get(s);
          if (list) list.push(event);
          else bySink.set(s, [event]);
        }
    }
    return { bySink, unrouted };
  }
}

function compileMatch(match: Record<string, string | string[]>, maxMatchBytes: number | undefined, rule: string): Test {
  const tests = Object.entries(match).map(([key, patterns]) => {
    try {
      const path = parseFieldPath(key);
      // Levels are lower-case in events (core/event.ts): WARN, warn and Warn are one level.
      const options = { maxMatchBytes, lowerCase: key === 'level' };
      const list = (Array.isArray(patterns) ? patterns : [patterns]).map((p) => compilePattern(p, options));
      const positive = list.filter((p) => !p.negated);
      const negative = list.filter((p) => p.negated);
      // Any positive pattern (or none given), and no negated one.
      return (event: LogEvent) => {
        const value = fieldText(path.get(event));
        if (positive.length > 0 && !positive.some((p) => p.test(value))) return false;
        return !negative.some((p) => p.test(value));
      };
    } catch (err) {
      if (err instanceof FieldPathError || err instanceof PatternError) throw new Error(`route ${rule}: ${key}: ${err.message}`);
      throw err;
    }
  });
  return (event) => tests.every((t) => t(event));
}

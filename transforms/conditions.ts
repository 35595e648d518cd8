import { z } from 'zod';
import type { LogEvent } from '../core/event.js';
import { compilePattern, fieldPathProblem, fieldText, parseFieldPath, patternProblem } from '../core/template.js';

/**
 * Conditions on an event — the transforms' `when:`, filter's `drop` / `keep`, the
 * exclusions of throttle and sample — in the routes' vocabulary (core/template.ts): field
 * paths as keys (`service`, `level`, `fields.kubernetes.pod`), value patterns as values
 * (exact, `*` glob, `/RE2 regex/`, `!` negation; a list means any of them), all of which
 * must hold. Patterns run in linear time on the value.
 *
 *   { service: payments, level: [error, fatal], "fields.team": "search-*", message: "/timeout/" }
 */
export type Conditions = Record<string, string | string[]>;
export type EventTest = (event: LogEvent) => boolean;

const pattern = z.string().superRefine((v, ctx) => {
  const problem = patternProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const conditionsSchema = () =>
  z.record(z.string(), z.union([pattern, z.array(pattern).min(1)])).superRefine((m, ctx) => {
    for (const key of Object.keys(m)) {
      const problem = fieldPathProblem(key);
      if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
  });

/** A test for validated conditions; an empty map holds for every event. */
export function compileConditions(conditions: Conditions): EventTest {
  const tests = Object.entries(conditions).map(([key, patterns]) => {
    const path = parseFieldPath(key);
    const list = (Array.isArray(patterns) ? patterns : [patterns]).map((p) => compilePattern(p, { lowerCase: key === 'level' }));
    const positive = list.filter((p) => !p.negated);
    const negative = list.filter((p) => p.negated);
    return (e: LogEvent) => {
      const value = fieldText(path.get(e));
      if (positive.length > 0 && !positive.some((p) => p.test(value))) return false;
      return !negative.some((p) => p.test(value));
    };
  });
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  return (e) => tests.every((t) => t(e));
}

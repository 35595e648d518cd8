import { z } from 'zod';
import { DEFAULT_MAX_MATCH_BYTES, fieldPathProblem, patternProblem } from '../core/template.js';
import { byteSize, duration } from '../core/units.js';

/**
 * The collector's `routes:` section, and the `shutdown:` section (the `dead_letter:` section
 * is a component: dead-letter/).
 *
 *   routes:
 *     rules:
 *       - name: payment-errors
 *         match: { service: payments, level: [error, fatal] }
 *         sinks: [es, archive]
 *         continue: true          # also try the rules below (fan-out); default: first match wins
 *       - match: { fields.team: "search-*" }
 *         sinks: [search-es]
 *     default: [archive]          # for events no rule took; without it they go to the dead-letter
 *     max_match_bytes: 64KiB      # what a /regular expression/ sees of a value at most
 *
 * Without a `routes:` section every sink receives every event. Match keys are field paths
 * and patterns value patterns, both from core/template.ts (one vocabulary with templates).
 */

const pattern = z.string().superRefine((v, ctx) => {
  const problem = patternProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const routeRule = z.strictObject({
  name: z.string().min(1).optional().describe('Name shown in logs and metrics (default: rule #N)'),
  match: z
    .record(z.string(), z.union([pattern, z.array(pattern).min(1)]))
    .default({})
    .superRefine((m, ctx) => {
      for (const key of Object.keys(m)) {
        const problem = fieldPathProblem(key);
        if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
      }
    })
    .describe('Conditions, all of which must hold; a list means any of its patterns. Empty: every event'),
  sinks: z.array(z.string().min(1)).min(1).describe('Sinks that receive the events this rule accepts'),
  continue: z.boolean().default(false).describe('After a match, also try the rules below (fan-out) instead of stopping here'),
});

export const routesSection = z.strictObject({
  rules: z.array(routeRule).default([]).describe('Tried in order; the first match wins unless it says continue: true'),
  default: z
    .array(z.string().min(1))
    .optional()
    .describe('Sinks for events no rule accepted; without it those events go to the dead-letter'),
  max_match_bytes: byteSize()
    .default(DEFAULT_MAX_MATCH_BYTES)
    .refine((n) => n > 0, 'must be above 0')
    .describe('A /regular expression/ pattern sees at most this many bytes of a value, from its start (bounds its cost per event)'),
});

export const shutdownSection = z.strictObject({
  drain_timeout: duration()
    .default(10_000)
    .describe('On SIGTERM/SIGINT, how long the agent keeps forwarding what its channel holds before leaving the rest for the next start'),
});

export type RoutesConfig = z.infer<typeof routesSection>;
export type RouteRuleConfig = z.infer<typeof routeRule>;
export type ShutdownConfig = z.infer<typeof shutdownSection>;

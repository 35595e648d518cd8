import { z } from 'zod';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { compileConditions, conditionsSchema, type EventTest } from '../conditions.js';
import { duration } from '../../core/units.js';
import { keyOf, keyTemplate } from '../keyed.js';
import { applyEach, commonOptions, compileWhen, discardCounter, type Side, type Transform, transformSpec } from '../transform.js';

export const throttleOptions = z
  .strictObject({
    ...commonOptions,
    threshold: z.number().int().min(1).describe('events let through per window and key'),
    window: duration().pipe(z.number().int().min(1)).describe('the window the threshold is for, e.g. "1s" or "1m"'),
    key: keyTemplate().default('{service}').describe('what a budget is kept for: a template such as "{service}" or "{service}/{module}"'),
    exclude: conditionsSchema().optional().describe('events matching these conditions are never throttled (e.g. level: [error, fatal])'),
    max_keys: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('budgets kept at once; beyond it the least recently seen key is forgotten (it starts again with a full budget)'),
  })
  .describe('Lets at most `threshold` events per `window` through for each key; the rest is dropped and counted');

export type ThrottleOptions = z.output<typeof throttleOptions>;

interface Bucket {
  tokens: number;
  updated: number;
  /** Events dropped since the last log line about this key. */
  dropped: number;
  loggedAt: number;
}

/**
 * `type: throttle`: a token bucket per key, holding `threshold` tokens and refilled at
 * `threshold` per `window`, so a steady flow gets exactly its budget and a burst after a
 * quiet spell gets at most one window's worth. Keys come from log data, so at most
 * `max_keys` buckets are kept (least recently seen forgotten first). Drops are counted
 * (reason `throttled`) and logged at most once a minute per key.
 */
export class ThrottleTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  private readonly exclude: EventTest | undefined;
  private readonly key: (e: LogEvent) => string;
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly dropped;

  constructor(
    readonly name: string,
    private readonly o: ThrottleOptions,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    this.exclude = o.exclude ? compileConditions(o.exclude) : undefined;
    this.key = keyOf(o.key);
    this.perMs = o.threshold / o.window;
    this.dropped = discardCounter(name, 'throttled');
  }

  apply(events: LogEvent[]): LogEvent[] {
    const now = this.now();
    return applyEach(events, this.when, (e) => {
      if (this.exclude?.(e)) return true;
      const key = this.key(e);
      const b = this.bucket(key, now);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return true;
      }
      this.dropped.inc();
      b.dropped++;
      if (now - b.loggedAt >= 60_000) {
        this.logger?.warn({ key, threshold: this.o.threshold, window_ms: this.o.window, dropped: b.dropped }, 'throttling events');
        b.loggedAt = now;
        b.dropped = 0;
      }
      return false;
    });
  }

  private bucket(key: string, now: number): Bucket {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.o.max_keys) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.o.threshold, updated: now, dropped: 0, loggedAt: Number.NEGATIVE_INFINITY };
    } else {
      // Refresh its place in the map's order: the first key is the least recently seen.
      this.buckets.delete(key);
      if (now > b.updated) {
        b.tokens = Math.min(this.o.threshold, b.tokens + (now - b.updated) * this.perMs);
        b.updated = now;
      }
    }
    this.buckets.set(key, b);
    return b;
  }
}

export const throttleTransformSpec = transformSpec(ThrottleTransform, throttleOptions, {
  type: 'throttle',
  description: 'lets at most N events per window through per key (e.g. per service), dropping and counting the rest',
  fieldsSet: () => [],
});

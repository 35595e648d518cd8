import { z } from 'zod';
import type { LogEvent } from '../../core/event.js';
import { compileConditions, conditionsSchema, type EventTest } from '../conditions.js';
import { keyTemplate, presentKeyOf } from '../keyed.js';
import { applyEach, commonOptions, compileWhen, discardCounter, type Side, type Transform, transformSpec } from '../transform.js';

export const sampleOptions = z
  .strictObject({
    ...commonOptions,
    rate: z.number().int().min(2).describe('keep one event in `rate`'),
    key: keyTemplate()
      .optional()
      .describe(
        'events with the same key are kept or dropped together, e.g. "{fields.trace_id}"; an event without it, and every event by default, on its own, by its id',
      ),
    exclude: conditionsSchema().optional().describe('events matching these conditions are always kept (e.g. level: [warn, error, fatal])'),
  })
  .describe('Keeps one event in `rate`, by a hash of its id or key, the same decision on every replay');

export type SampleOptions = z.output<typeof sampleOptions>;

/**
 * `type: sample`: keeps an event when a hash of its key (by default its id) falls in one
 * `rate`-th of the hash space. The decision depends on nothing but the event, so a replay
 * after a crash keeps exactly the same events (no gaps, no duplicates downstream), and all
 * events of one trace (`key: "{fields.trace_id}"`) share their fate; an event without a value
 * for the key is sampled by its id (all of them under the key `unknown` would be kept or
 * dropped together: every one of them, or none). Dropped events are counted (reason `sampled`).
 */
export class SampleTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  private readonly exclude: EventTest | undefined;
  private readonly key: (e: LogEvent) => string | undefined;
  private readonly dropped;

  constructor(
    readonly name: string,
    private readonly o: SampleOptions,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    this.exclude = o.exclude ? compileConditions(o.exclude) : undefined;
    this.key = o.key === undefined ? (e) => e.id : presentKeyOf(o.key);
    this.dropped = discardCounter(name, 'sampled');
  }

  apply(events: LogEvent[]): LogEvent[] {
    return applyEach(events, this.when, this.each);
  }

  // Made once, not per batch: V8 optimizes each new closure anew, and a batch would run partly unoptimized.
  private readonly each = (e: LogEvent): boolean => {
    if (this.exclude?.(e)) return true;
    if (fnv1a(this.key(e) ?? e.id) % this.o.rate === 0) return true;
    this.dropped.inc();
    return false;
  };
}

/** 32-bit FNV-1a over UTF-16 code units: fast, stable across versions and processes. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const sampleTransformSpec = transformSpec(SampleTransform, sampleOptions, {
  type: 'sample',
  description: 'keeps one event in N (by id or a key such as a trace id), the same decision on every replay',
  fieldsSet: () => [],
});

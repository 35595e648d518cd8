import { z } from 'zod';
import type { LogEvent } from '../../core/event.js';
import { compileConditions, conditionsSchema, type EventTest } from '../conditions.js';
import { LEVELS } from '../level/normalize.js';
import { applyEach, commonOptions, compileWhen, discardCounter, type Side, type Transform, transformSpec } from '../transform.js';

export const filterOptions = z
  .strictObject({
    ...commonOptions,
    drop: conditionsSchema().optional().describe('drop the events matching all these conditions'),
    keep: conditionsSchema().optional().describe('keep only the events matching all these conditions'),
    min_level: z
      .enum(LEVELS)
      .optional()
      .describe('drop events below this level (trace < debug < info < warn < error < fatal); events with no known level are kept'),
  })
  .superRefine((o, ctx) => {
    if (o.drop === undefined && o.keep === undefined && o.min_level === undefined)
      ctx.addIssue({ code: 'custom', message: 'nothing to filter on: give drop, keep and/or min_level' });
  })
  .describe('Drops events by level, field values, globs or regexes');

export type FilterOptions = z.output<typeof filterOptions>;

const RANK = new Map<string, number>(LEVELS.map((l, i) => [l, i]));

/**
 * `type: filter`: an event goes on when it matches `keep` (if given), does not match
 * `drop` (if given) and is at `min_level` or above (if given). Dropped events are counted
 * by reason: `drop`, `keep` or `min_level`.
 */
export class FilterTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  private readonly test: (e: LogEvent) => boolean;

  constructor(
    readonly name: string,
    o: FilterOptions,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    const checks: ((e: LogEvent) => boolean)[] = [];
    if (o.keep) {
      const keep = compileConditions(o.keep);
      const dropped = discardCounter(name, 'keep');
      checks.push((e) => {
        if (keep(e)) return true;
        dropped.inc();
        return false;
      });
    }
    if (o.drop) {
      const drop = compileConditions(o.drop);
      const dropped = discardCounter(name, 'drop');
      checks.push((e) => {
        if (!drop(e)) return true;
        dropped.inc();
        return false;
      });
    }
    if (o.min_level) {
      const min = RANK.get(o.min_level)!;
      const dropped = discardCounter(name, 'min_level');
      checks.push((e) => {
        const rank = e.level === undefined ? undefined : RANK.get(e.level);
        if (rank === undefined || rank >= min) return true;
        dropped.inc();
        return false;
      });
    }
    this.test = (e) => checks.every((c) => c(e));
  }

  apply(events: LogEvent[]): LogEvent[] {
    return applyEach(events, this.when, this.test);
  }
}

export const filterTransformSpec = transformSpec(FilterTransform, filterOptions, {
  type: 'filter',
  description: 'drops events by level, field values, globs or regexes',
  fieldsSet: () => [],
});

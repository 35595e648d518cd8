import { z } from 'zod';
import type { LogEvent } from '../core/event.js';
import { compileConditions, type Conditions, conditionsSchema, type EventTest } from './conditions.js';
import type { Logger } from '../core/log.js';
import { counter } from '../core/metrics.js';
import type { ComponentSpec } from '../core/registry.js';

/**
 * What every transform is: a synchronous step over a batch. Events are changed in place
 * (they belong to the batch being handed on), and the events that go on are returned:
 * the same array when none was dropped. No promise per event, no allocation per event
 * beyond what the step itself needs: a transform runs on the agent's and the collector's
 * hot path.
 */
export interface Transform {
  /** The transform's name in the config (`transforms.NAME`). */
  readonly name: string;
  /** Where it runs; undefined: where the config runs (see transforms/README.md, "Where transforms run"). */
  readonly at: Side | undefined;
  apply(events: LogEvent[]): LogEvent[];
}

export type Side = 'agent' | 'collector';

/** Options every transform has besides its own. */
export const commonOptions = {
  at: z
    .enum(['agent', 'collector'])
    .optional()
    .describe(
      'agent: before the channel; collector: after the bus, before routing. Default: where the file runs (`sluice run`: the agent half)',
    ),
  when: conditionsSchema()
    .optional()
    .describe('Only events matching these conditions (the routes vocabulary) are transformed; the others pass untouched'),
};

export interface CommonOptions {
  at?: Side;
  when?: Conditions;
}

/** Counted drops of a filtering transform, by reason (filtered, throttled, sampled). */
const discarded = counter('sluice_transform_events_discarded_total', 'events a transform dropped on purpose, by reason', [
  'component',
  'reason',
]);
const parseErrors = counter('sluice_transform_parse_errors_total', 'events a transform could not parse (kept, marked log.parse_error)', [
  'component',
]);

export const metricName = (name: string) => `transforms.${name}`;

/** The key every failed parse leaves in `fields`, with the transform's name and the reason. */
export const PARSE_ERROR_FIELD = 'log.parse_error';

/**
 * Marks an event as not parsed: the event goes on unchanged but for `fields["log.parse_error"]`
 * ("NAME: reason"), and the failure is counted. Parse failures never drop an event.
 */
export class ParseErrors {
  private readonly count;
  constructor(private readonly name: string) {
    this.count = parseErrors.labels({ component: metricName(name) });
  }
  mark(event: LogEvent, reason: string): void {
    event.fields[PARSE_ERROR_FIELD] = `${this.name}: ${reason}`;
    this.count.inc();
  }
}

export function discardCounter(name: string, reason: string) {
  return discarded.labels({ component: metricName(name), reason });
}

/**
 * Runs `keep` on each event `when` selects (every event without `when`) and returns the
 * events kept: the input array itself while nothing is dropped.
 */
export function applyEach(events: LogEvent[], when: EventTest | undefined, keep: (e: LogEvent) => boolean): LogEvent[] {
  let out: LogEvent[] | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const kept = when !== undefined && !when(e) ? true : keep(e);
    if (!kept) out ??= events.slice(0, i);
    else if (out) out.push(e);
  }
  return out ?? events;
}

export function compileWhen(when: Conditions | undefined): EventTest | undefined {
  return when === undefined ? undefined : compileConditions(when);
}

/**
 * The spec of a transform type: every transform is built alike, from its name in the config
 * and its options (and the logger, for one that reports what it drops).
 */
export function transformSpec<Options>(
  Impl: new (name: string, options: Options, logger: Logger) => Transform,
  options: z.ZodType<Options>,
  meta: Pick<ComponentSpec<'transform', Options, Transform>, 'type' | 'description'> &
    Required<Pick<ComponentSpec<'transform', Options, Transform>, 'fieldsSet'>>,
): ComponentSpec<'transform', Options, Transform> {
  return { kind: 'transform', ...meta, options, create: (o, ctx) => new Impl(ctx.name, o, ctx.logger) };
}

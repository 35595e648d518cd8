import type { Logger } from '../log.js';
import { counter } from '../metrics.js';

/**
 * `max_distinct`: a cap on how many different names a template makes. Service, module and
 * host names come from log paths and container labels, which anyone who can start a
 * container controls; without a cap 1,000 pod names make 1,000 Kafka topics or 1,000
 * daily indices (and their shards) before anybody notices. The first `max` distinct
 * combinations of a template's field values keep their names; every later one is
 * rendered with each field replaced by OVERFLOW (`logs.{service}` -> `logs._other`), so
 * its events are still delivered, together, and say so: a warn line and a counter.
 *
 * Combinations are counted, not names: `logs-{service}-%Y.%m.%d` makes one new index a
 * day per service, and a cap on names would close after `max` days. The count is per
 * process since its start (each agent for its topics, each collector for its indices).
 */

export const OVERFLOW = '_other';

const overflowEvents = counter(
  'sluice_template_overflow_events_total',
  'Events whose template values were beyond max_distinct, named with the overflow value instead',
  ['component', 'option'],
);

/** How often the warn line repeats while values keep overflowing. */
const REPEAT_MS = 60_000;

export interface DistinctLimitOptions {
  /** At most this many distinct value combinations keep their own name. */
  maxDistinct: number;
  /** The option the template is, as users write it (`bus.topic`, `index`): log and metric label. */
  option: string;
  component: string;
  logger: Logger;
  now?: () => number;
}

export class DistinctLimit {
  readonly max: number;
  private readonly admitted = new Set<string>();
  private readonly counted: { inc(n?: number): void };
  private lastWarn = Number.NEGATIVE_INFINITY;
  private sinceWarn = 0;
  private readonly now: () => number;

  constructor(private readonly options: DistinctLimitOptions) {
    this.max = options.maxDistinct;
    this.now = options.now ?? Date.now;
    this.counted = overflowEvents.labels({ component: options.component, option: options.option });
  }

  /** Whether this combination of rendered values keeps its own name (remembered once it does). */
  admit(values: string): boolean {
    if (this.admitted.has(values)) return true;
    if (this.admitted.size >= this.max) return false;
    this.admitted.add(values);
    return true;
  }

  /** Called for every event named with the overflow value; `value` is the name it would have had. */
  overflowed(template: string, value: string): void {
    this.counted.inc();
    this.sinceWarn++;
    const now = this.now();
    if (now - this.lastWarn < REPEAT_MS) return;
    this.options.logger.warn(
      {
        option: this.options.option,
        template,
        max_distinct: this.max,
        overflow: OVERFLOW,
        value,
        overflowed_events: this.sinceWarn,
      },
      'template values beyond max_distinct are named with the overflow value',
    );
    this.lastWarn = now;
    this.sinceWarn = 0;
  }
}

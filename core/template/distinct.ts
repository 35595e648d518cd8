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
 * day per service, and a cap on names would close after `max` days. Admission follows
 * arrival order in each process. Where that is not enough (an event replayed after a
 * restart must get the name its first copy got), the user seeds the limit with the
 * combinations that already have a name (`seed`), read back from what exists, and says
 * with `key` what makes a live combination equal to one read back.
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
  /**
   * What a combination (its rendered values joined by NUL) is counted and remembered as;
   * default: the values themselves. Two combinations with one key are one: a user that
   * seeds from names keys by the name, so values that make the same name compare equal
   * to what it reads back.
   */
  key?: (values: string) => string;
  /**
   * Told of each new decision before `admit` returns it: a key admitted for the first time,
   * or a key refused that is not refused for good (`refuse`). A user that keeps them where
   * a restarted process reads them back (`seed`, `refuse`) makes that process decide as
   * this one did.
   */
  decided?: (key: string, admitted: boolean) => void;
}

export class DistinctLimit {
  readonly max: number;
  private readonly admitted = new Set<string>();
  /** Seeded without counting towards `max` (seed's `counts: false`). */
  private readonly known = new Set<string>();
  /** Refused even while there is room (`refuse`). */
  private readonly refused = new Set<string>();
  private readonly counted: { inc(n?: number): void };
  private lastWarn = Number.NEGATIVE_INFINITY;
  private sinceWarn = 0;
  private readonly now: () => number;
  private readonly key: (values: string) => string;

  constructor(private readonly options: DistinctLimitOptions) {
    this.max = options.maxDistinct;
    this.now = options.now ?? Date.now;
    this.key = options.key ?? ((values) => values);
    this.counted = overflowEvents.labels({ component: options.component, option: options.option });
  }

  /** Whether this combination of rendered values keeps its own name (remembered once it does). */
  admit(values: string): boolean {
    const key = this.key(values);
    if (this.refused.has(key)) return false;
    if (this.admitted.has(key) || this.known.has(key)) return true;
    if (this.admitted.size >= this.max) {
      this.options.decided?.(key, false);
      return false;
    }
    this.admitted.add(key);
    this.options.decided?.(key, true);
    return true;
  }

  /**
   * Admits combinations that already have their name (`key`s, as the key option makes
   * them), all of them even beyond `max`: they exist whatever the cap says, and a replayed
   * event of one must get the name its first copy got. With `counts` (the default) they
   * count towards `max`, so later combinations are admitted only while fewer are known: a
   * cap on what the whole system makes (a collector's indices). Without, only this
   * process's own new combinations count: a cap per process among many that share what
   * exists (an agent's topics, in a cluster of hundreds of services). Call it before the
   * first admit: a combination already refused here and admitted by a later seed would
   * have been given two names. A key refused for good stays refused. Returns how many keys
   * it admitted.
   */
  seed(keys: Iterable<string>, counts = true): number {
    const into = counts ? this.admitted : this.known;
    let seeded = 0;
    for (const key of keys)
      if (!this.refused.has(key)) {
        into.add(key);
        seeded++;
      }
    return seeded;
  }

  /**
   * Refuses `keys` for good, even while there is room and even when seeded: a combination
   * named with the overflow value before keeps that name, so a replayed event goes where its
   * first copy went, whatever was counted or created since.
   */
  refuse(keys: Iterable<string>): void {
    for (const key of keys) this.refused.add(key);
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

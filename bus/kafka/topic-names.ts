import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { DistinctLimit, type DistinctLimitOptions, EventTemplate, OVERFLOW, parseTemplate } from '../../core/template.js';
import { limitTopic, NO_TIME, sanitizeTopicValue, TOPIC_VALUE } from './options.js';

/** A whole topic name of Kafka's characters; one character class, so linear. */
const TOPIC_NAME = new RegExp(`^${TOPIC_VALUE}$`);

/**
 * The topic of each event the agent produces: the topic template with each value sanitized,
 * the name within 249 characters, and with `distinct` (`topic_max_distinct`) at most that
 * many value combinations with a topic of their own, the later ones going to the `_other` topic.
 *
 * Admission follows arrival order in each process, so after a restart an event replayed
 * from the disk channel could go to its own topic where its first copy went to `_other`, or
 * the reverse, and a collector would write it twice: the file trees skip copies per
 * partition, not across topics. So before the first event is named the producer lists the
 * topics and `prepare` admits the combinations of those the template can have made. A
 * combination is keyed by the topic name it makes, which is all an existing topic shows of
 * it: values that sanitize to one name are one topic, and one combination.
 */
export class TopicNamer {
  private readonly template: EventTemplate;
  /** The limit and whom to tell of the listing, when topic_max_distinct applies (a cap, and values to count). */
  private readonly cap: { limit: DistinctLimit; logger: Logger } | undefined;
  /** The template's literal text before its first value, between each two, and after its last. */
  private readonly segments: readonly string[];
  /** Settled once the existing topics' combinations are admitted (at once when there is no cap). */
  private prepared: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    distinct?: Omit<DistinctLimitOptions, 'option' | 'key'>,
  ) {
    const segments = [''];
    for (const p of parseTemplate(topic, NO_TIME)) {
      if (p.kind === 'field') segments.push('');
      else if (p.kind === 'literal') segments[segments.length - 1] += p.text;
    }
    this.segments = segments;
    const limit =
      distinct && distinct.maxDistinct > 0 && segments.length > 1
        ? new DistinctLimit({ ...distinct, option: 'bus.topic', key: (values) => this.nameOf(values.split('\u0000')) })
        : undefined;
    this.cap = limit && distinct ? { limit, logger: distinct.logger } : undefined;
    this.template = new EventTemplate(topic, { ...NO_TIME, sanitize: sanitizeTopicValue, finish: limitTopic, limit });
    if (!this.cap) this.prepared = Promise.resolve();
  }

  name(event: LogEvent): string {
    return this.template.renderCached(event);
  }

  /**
   * Admits the combinations of the existing topics, once, before the first event is named:
   * `list` gives every topic name of the cluster. A listing that fails rejects (`describe`
   * says the client's error), and the next call lists again: the send fails and the
   * forwarder retries it, as when the brokers are unreachable, so no event is named from a
   * partial count. Once it succeeded it is never done again: a combination this process
   * sent to `_other` and a later listing admitted would have two topics.
   */
  prepare(list: () => Promise<Iterable<string>>, describe: (err: unknown) => string): Promise<void> {
    if (!this.prepared && this.cap) {
      const { limit, logger } = this.cap;
      const attempt = list().then(
        (names) => {
          const admitted = this.seed(limit, names);
          logger.info(
            { topic: this.topic, topics: admitted, topic_max_distinct: limit.max },
            'admitted the value combinations of the existing topics',
          );
        },
        (err: unknown) => {
          throw new Error(
            `cannot list the topics of ${this.topic}, whose value combinations topic_max_distinct admits before naming any event: ${describe(err)}`,
          );
        },
      );
      this.prepared = attempt;
      attempt.catch(() => {
        if (this.prepared === attempt) this.prepared = undefined;
      });
    }
    return this.prepared!;
  }

  /**
   * Admits the combinations of `existing` topic names, all of them even beyond the cap; a
   * name the template cannot have made (another application's topic) and the `_other`
   * topic are no combination. Returns how many were admitted.
   */
  private seed(limit: DistinctLimit, existing: Iterable<string>): number {
    const overflow = this.nameOf(this.segments.slice(1).map(() => sanitizeTopicValue(OVERFLOW)));
    const keys = new Set<string>();
    for (const name of existing) if (name !== overflow && this.couldMake(name)) keys.add(name);
    // The cap is per agent: the topics of every other agent's services are admitted, and do
    // not count, or a cluster with more services than the cap would send every new service
    // to _other.
    limit.seed(keys, false);
    return keys.size;
  }

  /** The topic a combination of (sanitized) values makes: what it is counted as. */
  private nameOf(values: readonly string[]): string {
    let name = this.segments[0]!;
    for (let i = 1; i < this.segments.length; i++) name += values[i - 1]! + this.segments[i]!;
    return limitTopic(name);
  }

  /**
   * Whether the template can have made `name`: its first and last literal text at the ends,
   * each one between placed in order with at least one character of value before it, and
   * one after the last. Placing each at its first fit leaves the most room for the rest
   * (values are any of Kafka's characters; that none is `.` or `..` is not looked at, so
   * such a name is taken for one the template made), so one pass decides. Not the consumers'
   * subscription pattern: with three values it backtracks for a tenth of a second on a
   * name such as `logs.` and 240 dots, which a value can make.
   */
  private couldMake(name: string): boolean {
    const segs = this.segments;
    const last = segs[segs.length - 1]!;
    const end = name.length - last.length;
    if (!TOPIC_NAME.test(name) || !name.startsWith(segs[0]!) || !name.endsWith(last)) return false;
    let from = segs[0]!.length + 1;
    for (let i = 1; i < segs.length - 1; i++) {
      const at = name.indexOf(segs[i]!, from);
      if (at === -1) return false;
      from = at + segs[i]!.length + 1;
    }
    return from <= end;
  }
}

import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import {
  DistinctLimit,
  type DistinctLimitOptions,
  EventTemplate,
  literalSegments,
  OVERFLOW,
  parseTemplate,
  templateMatcher,
} from '../../core/template.js';
import { isTopicChar, limitTopic, NO_TIME, sanitizeTopicValue } from './options.js';

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
  /**
   * Whether the template can have made a name: the consumers' test (topicSubscription), in
   * one pass. Values are any run of Kafka's characters: that none is `.` or `..` is not
   * looked at, so such a name is taken for one the template made.
   */
  private readonly couldMake: (name: string) => boolean;
  /** Settled once the existing topics' combinations are admitted (at once when there is no cap). */
  private prepared: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    distinct?: Omit<DistinctLimitOptions, 'option' | 'key'>,
  ) {
    const parts = parseTemplate(topic, NO_TIME);
    const segments = literalSegments(parts);
    this.segments = segments;
    this.couldMake = templateMatcher(parts, isTopicChar);
    const limit =
      distinct && distinct.maxDistinct > 0 && segments.length > 1
        ? new DistinctLimit({ ...distinct, option: 'bus.topic', key: (values) => this.nameOf(values.split('\u0000')) })
        : undefined;
    this.cap = limit && distinct ? { limit, logger: distinct.logger } : undefined;
    this.template = new EventTemplate(topic, {
      ...NO_TIME,
      sanitize: sanitizeTopicValue,
      finish: (_name, values) => limitTopic(segments, values),
      limit,
    });
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
    return limitTopic(this.segments, values);
  }
}

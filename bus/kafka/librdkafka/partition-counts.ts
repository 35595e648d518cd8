import { describeNativeError, ERR, type Metadata, type NativeError } from './native.js';

/**
 * How long a topic's partition count is used before it is looked up again: the Java
 * client's metadata.max.age.ms. Partitions added to a topic are used from then on, as a
 * keyed producer would.
 */
const MAX_AGE_MS = 5 * 60_000;

/** Asks the cluster for one topic's metadata (the producer's getMetadata). */
export type FetchMetadata = (topic: string) => Promise<Metadata>;

interface Known {
  count: number;
  at: number;
  /** Refused as unknown by librdkafka: looked up before the next send to the topic. */
  suspect: boolean;
  refreshing: boolean;
}

/**
 * The partition count of each topic the producer places records on itself (placement.ts).
 * A topic not known yet is looked up before its first records are produced; a stale count
 * is refreshed in the background and used meanwhile (counts only grow, so every partition
 * it names still exists). A record librdkafka refused for an unknown partition or topic
 * (the topic was deleted and made again) marks the topic suspect: the next send waits for
 * a fresh count. A topic that cannot be looked up fails only its own records.
 */
export class PartitionCounts {
  private readonly known = new Map<string, Known>();
  /** Why the last lookup of a topic with no usable count failed. */
  private readonly problems = new Map<string, NativeError>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Looks up the counts not known (or suspect) and refreshes the stale ones; never rejects: see count(). */
  async ensure(topics: Iterable<string>, fetch: FetchMetadata): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const topic of topics) {
      const k = this.known.get(topic);
      if (!k || k.suspect) waits.push(this.lookUp(topic, fetch));
      else if (!k.refreshing && this.now() - k.at >= MAX_AGE_MS) {
        k.refreshing = true;
        // A failed refresh keeps the count it had and tries again at the next send.
        void this.lookUp(topic, fetch);
      }
    }
    await Promise.all(waits);
  }

  /** The count of a topic, or why it could not be looked up (an outage of that topic's records, not a refusal). */
  count(topic: string): number | NativeError {
    const k = this.known.get(topic);
    if (k && !k.suspect) return k.count;
    return this.problems.get(topic) ?? problem(`partition count of topic "${topic}" not looked up`, ERR.UNKNOWN_TOPIC_OR_PART);
  }

  forget(topic: string): void {
    const k = this.known.get(topic);
    if (k) k.suspect = true;
  }

  private async lookUp(topic: string, fetch: FetchMetadata): Promise<void> {
    let count: number;
    let failure: NativeError | undefined;
    try {
      const metadata = await fetch(topic);
      count = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
      if (count === 0)
        failure = problem(
          `topic "${topic}" has no partitions in the cluster's metadata (it does not exist yet?)`,
          ERR.UNKNOWN_TOPIC_OR_PART,
        );
    } catch (err) {
      count = 0;
      failure = problem(`partition count of topic "${topic}" not looked up: ${describeNativeError(err)}`, (err as NativeError).code ?? -1);
    }
    const k = this.known.get(topic);
    if (failure) {
      if (k) k.refreshing = false;
      // A suspect count is not used again: librdkafka refused one of its partitions.
      if (!k || k.suspect) this.problems.set(topic, failure);
      return;
    }
    this.problems.delete(topic);
    this.known.set(topic, { count, at: this.now(), suspect: false, refreshing: false });
  }
}

function problem(message: string, code: number): NativeError {
  return Object.assign(new Error(message), { code });
}

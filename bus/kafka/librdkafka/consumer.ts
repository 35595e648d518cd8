import { Backoff, sleep } from '../../../core/backoff.js';
import { type Logger, OutageLog } from '../../../core/log.js';
import type { AckableBatch, BusConsumer, UndecodableRecord } from '../../../core/pipeline.js';
import type { ClientSetup } from '../client.js';
import { busMetrics } from '../metrics.js';
import { type KafkaBusOptions, describeBus, topicSubscription } from '../options.js';
import { decodeBatch, deliverAndWait, keepUndecodable } from '../records.js';
import { UncommittedWrites } from '../uncommitted.js';
import { connectTimeout, connectionConfig, fetchConfig } from './config.js';
import {
  ERR,
  isOutage,
  type NativeConsumer,
  type NativeError,
  type NativeMessage,
  type TopicPartition,
  type TopicPartitionOffset,
  describeNativeError,
  loadNative,
} from './native.js';

/**
 * How often the cluster's topics are looked at again: a subscribed topic that did not exist
 * yet (the collector started before any agent produced) or a new topic matching a templated
 * topic's pattern is picked up within this time. One small metadata request each time.
 */
const METADATA_REFRESH_MS = 5000;
/** A round still being written after this long polls again (the member stays in the group); see round(). */
const KEEPALIVE_MS = 1000;
/**
 * About this many value bytes per round. What a round holds (librdkafka's message objects,
 * their Buffers, the decoded events) must die young: rounds of 10,000 records outlived V8's
 * young generation and cost 1.7x the CPU of rounds of a few hundred (bench, 200-byte events).
 */
const ROUND_BYTES = 256 * 1024;
const ROUND_MAX_RECORDS = 1000;
const ROUND_MIN_RECORDS = 100;

type Deliver = (batch: AckableBatch) => Promise<void>;

/**
 * The collector's Kafka side on librdkafka's native consumer: one member of a consumer
 * group, fetching in librdkafka's own threads while this one decodes and delivers.
 *
 * It works in rounds: take what librdkafka has fetched (a few hundred KiB), split it by
 * partition, decode, deliver each partition's batch to the collector (up to
 * partitions_concurrently at once, each partition in order), and commit each partition's
 * offset once the collector acked its batch (every sink wrote it durably). Nothing is
 * committed before that. librdkafka commits asynchronously: the outcome comes back on a
 * later poll, and a failed one is remembered then. A round that takes long keeps polling
 * (taking the next round), and pauses fetching once that is whole (a sink is down), so the
 * member neither fills memory nor drops out of the group.
 *
 * A rebalance announced during a round waits for the round to be written and committed
 * before the partitions are given up (librdkafka holds the group until unassign), so the
 * next owner resumes exactly after it. A commit that fails (broker down, group
 * rebalancing) is remembered as UncommittedWrites: records read again from the older
 * offset that this process already wrote are skipped, checked by offset and event id.
 * Broker outages are librdkafka's to ride out: it reconnects on its own; the outage is
 * logged once when it starts and once when it ends.
 */
export class LibrdkafkaConsumer implements BusConsumer {
  private readonly options: KafkaBusOptions;
  private readonly logger: Logger;
  private readonly labels: { component: string; client: 'librdkafka' };
  private readonly outage: OutageLog;
  private readonly abort = new AbortController();
  private readonly uncommitted = new UncommittedWrites();
  private loop: Promise<void> | undefined;
  private consumer: NativeConsumer | undefined;
  /** A consume or a round is in progress: a revocation waits for it. */
  private busy = false;
  private revokePending = false;
  /** Records fetched while a round was still being written: the start of the next round. */
  private carry: NativeMessage[] = [];
  private topicMissing = false;
  private recordBytes = 256;
  /**
   * Commits sent and not yet answered (librdkafka commits asynchronously and reports the
   * outcome on a later poll), with what UncommittedWrites needs should they fail.
   */
  private readonly commits = new Map<string, PendingCommit>();
  /**
   * Per partition, the offset after the last batch delivered. A batch that starts below it is
   * a re-read (a rebalance or a new session went back to the committed offset), and may hold
   * records whose commit is still unanswered: see rememberUnanswered.
   */
  private readonly deliveredUpTo = new Map<string, number>();
  /**
   * Per partition, the highest offset whose commit librdkafka confirmed since the partition
   * was assigned. A commit confirmed after a higher one landed after it (librdkafka retries
   * a commit the coordinator did not answer, and the retry can come after the next batch's
   * commit): the group's offset went back, and is set forward again. See committed().
   */
  private readonly confirmed = new Map<string, number>();
  /**
   * A rebalance step librdkafka refused (assign or unassign threw): librdkafka then waits for
   * a step that never comes, and the member keeps partitions it does not read. The session
   * ends on it; a new consumer rejoins the group.
   */
  private rebalanceFailure: unknown;

  constructor(
    private readonly setup: ClientSetup,
    private readonly undecodable: ((records: readonly UndecodableRecord[]) => Promise<void>) | undefined,
  ) {
    this.options = setup.options;
    this.logger = setup.logger;
    this.labels = { component: setup.component, client: 'librdkafka' };
    this.outage = new OutageLog(this.logger, { what: 'kafka' });
  }

  async start(deliver: Deliver): Promise<void> {
    // Connecting happens in the background: a collector starts (and answers signals) while
    // Kafka is still down.
    this.loop ??= this.run(deliver);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /**
   * Sessions of one consumer each: a session ends when the collector stops, or when a
   * librdkafka call fails in a way that leaves the position unsure (a seek back that did
   * not happen); then the consumer is closed and a new one resumes from the committed
   * offsets, so nothing uncommitted is skipped.
   */
  private async run(deliver: Deliver): Promise<void> {
    const signal = this.abort.signal;
    const backoff = new Backoff(500, 30_000);
    while (!signal.aborted) {
      const consumer = await this.connect(backoff);
      if (!consumer) return;
      let failure: unknown;
      try {
        await this.session(consumer, deliver);
      } catch (err) {
        failure = err;
      }
      if (this.revokePending) this.giveUpAssignment();
      // Leaving the group: librdkafka revokes the assignment (unassigned at once: nothing
      // is in flight any more) and closes.
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      this.consumer = undefined;
      this.carry = [];
      this.forgetUnanswered();
      this.confirmed.clear();
      this.rebalanceFailure = undefined;
      if (failure !== undefined) {
        this.logger.error({ err: describeNativeError(failure) }, 'kafka consumer failed; a new one resumes from the committed offsets');
        await backoff.sleep(signal);
      }
    }
  }

  private async connect(backoff: Backoff): Promise<NativeConsumer | undefined> {
    const consumer = this.create();
    while (!this.abort.signal.aborted) {
      try {
        await new Promise<void>((resolve, reject) =>
          consumer.connect({ timeout: connectTimeout(this.options) }, (err) => (err ? reject(err) : resolve())),
        );
        this.outage.ok();
        this.consumer = consumer;
        return consumer;
      } catch (err) {
        this.outage.failed(describeNativeError(err));
        await backoff.sleep(this.abort.signal);
      }
    }
    return undefined;
  }

  private async session(consumer: NativeConsumer, deliver: Deliver): Promise<void> {
    const subscription = topicSubscription(this.options.topic);
    consumer.setDefaultConsumeTimeout(this.options.consumer.max_wait);
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.subscribe([typeof subscription === 'string' ? subscription : subscription.regex]);
    this.logger.info(
      { bus: describeBus(this.options), group: this.options.consumer.group_id, client: 'librdkafka' },
      'kafka consumer starting',
    );
    while (!this.abort.signal.aborted) {
      if (this.revokePending) this.giveUpAssignment();
      if (this.rebalanceFailure !== undefined) throw this.rebalanceFailure;
      this.busy = true;
      try {
        const records = this.carry.length > 0 ? this.carry.splice(0) : await this.consume(this.roundSize());
        if (records.length > 0 && !this.revokePending) await this.round(consumer, records, deliver);
      } finally {
        this.busy = false;
      }
    }
  }

  private create(): NativeConsumer {
    const c = this.options.consumer;
    const consumer = new (loadNative().KafkaConsumer)({
      ...connectionConfig(this.setup, '-collector'),
      'group.id': c.group_id,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'auto.offset.reset': c.start_at === 'beginning' ? 'earliest' : 'latest',
      'session.timeout.ms': c.session_timeout,
      'heartbeat.interval.ms': c.heartbeat_interval,
      // Also the rebalance timeout librdkafka gives the coordinator.
      'max.poll.interval.ms': Math.max(c.rebalance_timeout, c.session_timeout),
      ...fetchConfig(c),
      'partition.assignment.strategy': 'roundrobin',
      'allow.auto.create.topics': false,
      'topic.metadata.refresh.interval.ms': METADATA_REFRESH_MS,
      rebalance_cb: ((err: NativeError, assignment: TopicPartition[]) => this.rebalance(err, assignment)) as never,
      offset_commit_cb: true,
    });
    consumer.on('offset.commit', (err, offsets) => this.committed(err, offsets));
    consumer.on('event.error', (err) => {
      if (isOutage(err)) this.outage.failed(describeNativeError(err));
      else this.logger.debug({ err: describeNativeError(err) }, 'librdkafka consumer error');
    });
    consumer.on('event.log', (log) => this.logger.debug({ librdkafka: log.message, severity: log.severity }, 'librdkafka consumer log'));
    return consumer;
  }

  private rebalance(err: NativeError, assignment: TopicPartition[]): void {
    const consumer = this.consumer;
    if (!consumer) return;
    try {
      if (err.code === ERR.ASSIGN_PARTITIONS) {
        this.confirmed.clear();
        consumer.assign(assignment);
        const byTopic: Record<string, number[]> = {};
        for (const tp of assignment) (byTopic[tp.topic] ??= []).push(tp.partition);
        this.uncommitted.retain(byTopic);
        this.outage.ok();
        this.logger.info(
          { group: this.options.consumer.group_id, partitions: Object.entries(byTopic).map(([t, ps]) => `${t}[${ps.join(',')}]`) },
          'joined the consumer group',
        );
      } else if (err.code === ERR.REVOKE_PARTITIONS) {
        // The batches of a round in flight finish and commit first; librdkafka holds the
        // group until unassign().
        if (this.busy) this.revokePending = true;
        else this.giveUpAssignment();
      } else {
        this.logger.error({ err: describeNativeError(err) }, 'consumer group rebalance failed');
        this.giveUpAssignment();
      }
    } catch (e) {
      this.logger.warn({ err: describeNativeError(e) }, 'consumer group rebalance step failed; the consumer rejoins the group');
      this.rebalanceFailure = e;
    }
  }

  /** Lets the revoked partitions go; what was fetched from them and not delivered is read again by their next owner. */
  private giveUpAssignment(): void {
    this.revokePending = false;
    this.carry = [];
    this.confirmed.clear();
    try {
      this.consumer?.unassign();
    } catch (err) {
      this.logger.warn({ err: describeNativeError(err) }, 'unassign failed; the consumer rejoins the group');
      this.rebalanceFailure = err;
    }
  }

  /** Records per round: about ROUND_BYTES at the record sizes seen so far. */
  private roundSize(): number {
    const n = Math.floor(ROUND_BYTES / this.recordBytes);
    return Math.max(ROUND_MIN_RECORDS, Math.min(ROUND_MAX_RECORDS, n));
  }

  private consume(count: number): Promise<NativeMessage[]> {
    const consumer = this.consumer!;
    return new Promise((resolve) => {
      consumer.consume(count, (err, messages) => {
        if (!err) {
          if (messages.length > 0) {
            this.topicMissing = false;
            this.outage.ok();
          }
          resolve(messages);
          return;
        }
        if (err.code === ERR.TIMED_OUT) resolve([]);
        else if (err.code === ERR.UNKNOWN_TOPIC_OR_PART || err.code === ERR.UNKNOWN_TOPIC) {
          if (!this.topicMissing) {
            this.topicMissing = true;
            this.logger.warn({ topic: this.options.topic }, 'topic does not exist yet (no agent has produced to it); waiting for it');
          }
          void sleep(this.options.consumer.max_wait, this.abort.signal).then(() => resolve([]));
        } else {
          this.outage.failed(describeNativeError(err));
          void sleep(500, this.abort.signal).then(() => resolve([]));
        }
      });
    });
  }

  private async round(consumer: NativeConsumer, records: NativeMessage[], deliver: Deliver): Promise<void> {
    let bytes = 0;
    const byPartition = new Map<string, NativeMessage[]>();
    // librdkafka hands records over in runs per partition: look the partition up once per run.
    let list: NativeMessage[] | undefined;
    let last: NativeMessage | undefined;
    for (const r of records) {
      bytes += r.size;
      if (!last || r.partition !== last.partition || r.topic !== last.topic) {
        const key = `${r.partition}:${r.topic}`;
        list = byPartition.get(key);
        if (!list) byPartition.set(key, (list = []));
      }
      list!.push(r);
      last = r;
    }
    this.recordBytes = Math.max(16, Math.round(bytes / records.length));
    const batches = [...byPartition.values()];
    const failed: NativeMessage[] = [];
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        if (!(await this.partitionBatch(consumer, batch, deliver))) failed.push(batch[0]!);
      }
    };
    // The next round is fetched while this one is written: librdkafka gathers it on a
    // threadpool thread, which otherwise left this thread idle for a quarter of the time.
    // Asked for before the writes start (decoding the first batches runs at once). One
    // consume at a time: two at once could split a partition's records between them and
    // hand them back out of order.
    let prefetch: Promise<NativeMessage[]> | undefined = this.carry.length === 0 ? this.consume(this.roundSize()) : undefined;
    /** Adds the prefetched records to the carry; false when none were being fetched. */
    const takePrefetched = async (): Promise<boolean> => {
      const records = prefetch;
      if (records === undefined) return false;
      prefetch = undefined;
      this.carry.push(...(await records));
      return true;
    };
    const workers = Math.min(batches.length, this.options.consumer.partitions_concurrently);
    const done = Promise.all(Array.from({ length: workers }, worker));
    let paused: TopicPartition[] | undefined;
    try {
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          done.then(() => true),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), KEEPALIVE_MS))),
        ]);
        clearTimeout(timer);
        if (finished) break;
        // The sinks are slow: librdkafka leaves the group of a consumer not polled for
        // max.poll.interval.ms, so keep polling; what is taken is the next round. Fetching is
        // paused only once that is a whole round (the sinks are stuck, not slow): a pause drops
        // what librdkafka prefetched of every partition and its next fetch serves the first
        // partition first, so pausing on every slow round starved the other partitions for as
        // long as the first had a backlog.
        try {
          if (!(await takePrefetched())) {
            if (!paused && this.carry.length >= this.roundSize()) {
              paused = consumer.assignments();
              consumer.pause(paused);
            }
            this.carry.push(...(await this.consume(ROUND_MIN_RECORDS)));
          }
        } catch (err) {
          // Nothing of this round may be delivered after the session ends.
          await done;
          throw err;
        }
      }
    } finally {
      // Never left in flight: the session may end next, and a consume must not outlive it.
      await takePrefetched();
    }
    for (const first of failed) {
      // Never commit past a batch that was not written: read it again from its first offset.
      this.carry = this.carry.filter((r) => r.partition !== first.partition || r.topic !== first.topic);
      // A seek that fails ends the session: the next consumer starts from the committed offset.
      await new Promise<void>((resolve, reject) =>
        consumer.seek({ topic: first.topic, partition: first.partition, offset: first.offset }, 5000, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
    if (paused) {
      const assigned = new Set(consumer.assignments().map((tp) => `${tp.partition}:${tp.topic}`));
      const resume = paused.filter((tp) => assigned.has(`${tp.partition}:${tp.topic}`));
      if (resume.length > 0) consumer.resume(resume);
    }
  }

  /** Decodes, delivers and commits one partition's records; false when the batch was not delivered (it is read again). */
  private async partitionBatch(consumer: NativeConsumer, records: NativeMessage[], deliver: Deliver): Promise<boolean> {
    const { topic, partition } = records[0]!;
    const at = `${partition}:${topic}`;
    if (records[0]!.offset < (this.deliveredUpTo.get(at) ?? 0)) this.rememberUnanswered(topic, partition);
    const written = this.uncommitted.get(topic, partition);
    const { events, ids, undecodable, skipped, bytes } = decodeBatch(topic, partition, records, written);
    if (skipped > 0)
      this.logger.info(
        { topic, partition, offset: records[0]!.offset, skipped },
        'skipped records this collector already wrote before their offset commit failed',
      );
    try {
      if (undecodable.length > 0) {
        busMetrics.undecodable.inc(this.labels, undecodable.length);
        await keepUndecodable(undecodable, this.undecodable, this.abort.signal, this.logger);
      }
      if (events.length > 0) await deliverAndWait(deliver, events, topic, partition);
    } catch (err) {
      if (this.abort.signal.aborted) return true;
      this.logger.error(
        { topic, partition, offset: records[0]!.offset, err: (err as Error).message },
        'batch not delivered; it will be read again',
      );
      await sleep(1000, this.abort.signal);
      return false;
    }
    busMetrics.consumed.inc(this.labels, events.length);
    busMetrics.consumedBytes.inc(this.labels, bytes);
    const next = records[records.length - 1]!.offset + 1;
    this.deliveredUpTo.set(at, next);
    const pending: PendingCommit = {
      topic,
      partition,
      next,
      records,
      ids,
      written: written !== undefined,
      remembered: false,
    };
    try {
      this.commits.set(commitKey(topic, partition, next), pending);
      consumer.commit([{ topic, partition, offset: next }]);
    } catch (err) {
      this.commits.delete(commitKey(topic, partition, next));
      this.commitFailed(pending, err);
    }
    return true;
  }

  /** librdkafka's answer to commits: per partition, failed (the batch is remembered as written) or done. */
  private committed(err: NativeError | null | undefined, offsets: (TopicPartitionOffset & { error?: NativeError })[]): void {
    for (const tp of offsets ?? []) {
      const key = commitKey(tp.topic, tp.partition, tp.offset);
      const pending = this.commits.get(key);
      if (!pending) continue;
      this.commits.delete(key);
      const failure = err ?? tp.error;
      if (failure) this.commitFailed(pending, failure);
      else {
        this.outage.ok();
        if (pending.written || pending.remembered) this.uncommitted.committed(pending.topic, pending.partition, BigInt(pending.next));
        this.confirm(pending);
      }
    }
  }

  /**
   * A confirmed commit below one confirmed before it moved the group's offset back: the
   * range between would be read again by the next owner of the partition (a rebalance, a
   * restart), and what it wrote is no longer remembered. The higher offset is committed
   * again. Its answer is not waited for: a later batch's commit sets the offset forward too,
   * and if this one fails the partition is being given up, where the sinks' id checks are
   * what is left.
   */
  private confirm(c: PendingCommit): void {
    const at = `${c.partition}:${c.topic}`;
    const highest = this.confirmed.get(at);
    if (highest === undefined || c.next > highest) {
      this.confirmed.set(at, c.next);
      return;
    }
    if (c.next === highest) return;
    // Cleared when partitions are given up: a partition no longer assigned is not here.
    const consumer = this.consumer;
    if (!consumer) return;
    this.logger.info(
      { topic: c.topic, partition: c.partition, offset: c.next, committed_before: highest },
      'an offset commit landed after a later one; committing the later offset again',
    );
    try {
      consumer.commit([{ topic: c.topic, partition: c.partition, offset: highest }]);
    } catch (err) {
      this.logger.warn({ topic: c.topic, partition: c.partition, offset: highest, err: describeNativeError(err) }, 'offset commit failed');
    }
  }

  /**
   * The partition is read again while commits of batches written from it are unanswered
   * (librdkafka answers a commit made before the broker died, or before a rebalance, only
   * later, often with a failure). Those batches are remembered as written now, oldest first,
   * so the re-read skips them; a commit that then succeeds forgets them again. Waiting for
   * the answer would write them twice (kafkajs awaits each commit, so it never meets this).
   */
  private rememberUnanswered(topic: string, partition: number): void {
    const unanswered = [...this.commits.values()]
      .filter((c) => c.partition === partition && c.topic === topic && !c.remembered)
      .sort((a, b) => a.next - b.next);
    if (unanswered.length === 0) return;
    for (const c of unanswered) this.remember(c);
    this.logger.info(
      { topic, partition, batches: unanswered.length, offset: unanswered[0]!.records[0]!.offset },
      'partition read again before the commits of batches written from it were answered: remembered as written',
    );
  }

  /**
   * A closed consumer answers none of its commits still unanswered (the binding stops
   * dispatching them): kept, each would hold its batch's records for good, one round's
   * worth per session. They may or may not have landed, so their batches are remembered as
   * written, as when their partition is read again before an answer.
   */
  private forgetUnanswered(): void {
    for (const c of this.commits.values()) if (!c.remembered) this.remember(c);
    this.commits.clear();
  }

  private remember(c: PendingCommit): void {
    c.remembered = true;
    this.uncommitted.remember(
      c.topic,
      c.partition,
      c.records.map((r) => String(r.offset)),
      c.ids,
    );
  }

  private commitFailed(c: PendingCommit, err: unknown): void {
    busMetrics.commitFailures.inc(this.labels);
    // Remembered already if the partition was read again before this answer came.
    if (!c.remembered) this.remember(c);
    this.logger.warn(
      { topic: c.topic, partition: c.partition, offset: c.next, err: describeNativeError(err) },
      'offset commit failed: the batch was written; if it is read again, this collector skips what it already wrote',
    );
  }
}

interface PendingCommit {
  topic: string;
  partition: number;
  /** The offset committed: the one after the batch. */
  next: number;
  /** The batch's records, for their offsets should the commit fail (turned into strings only then). */
  records: readonly NativeMessage[];
  ids: (string | null)[];
  /** UncommittedWrites held something for this partition when the batch was read. */
  written: boolean;
  /** Put into UncommittedWrites (its commit failed, or was unanswered at a re-read). */
  remembered: boolean;
}

function commitKey(topic: string, partition: number, offset: number): string {
  return `${partition}:${offset}:${topic}`;
}

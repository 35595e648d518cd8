import type { Consumer, EachBatchPayload } from 'kafkajs';
import { Backoff } from '../../../core/backoff.js';
import type { Logger } from '../../../core/log.js';
import type { AckableBatch, BusConsumer, UndecodableRecord } from '../../../core/pipeline.js';
import type { ClientSetup } from '../client.js';
import { busMetrics } from '../metrics.js';
import { type KafkaBusOptions, type TopicPattern, describeBus, topicSubscription } from '../options.js';
import { decodeBatch, deliverAndWait, keepUndecodable } from '../records.js';
import { UncommittedWrites } from '../uncommitted.js';
import { createKafka, describeError } from './config.js';

/** How long a member stays in the group before its reconnect backoff starts again from the shortest wait. */
const STABLE_MS = 60_000;
/** How often a templated topic's pattern is checked for topics created since the subscription. */
const TOPIC_RESCAN_MS = 30_000;

/**
 * The collector's Kafka side: one member of a consumer group, so N collectors share the
 * partitions. Per fetched partition batch: decode; records that do not decode go to the
 * dead-letter with their topic/partition/offset; the events go to the collector, and the
 * batch's offsets are committed only after the collector acked it (every sink wrote its
 * share durably). Until then the partition is not fetched further, so a dead sink stops
 * consumption instead of filling memory. While sinks write, the member keeps heartbeating;
 * a rebalance announced meanwhile waits for the batch to be acked and committed before the
 * partition is given up, so the next owner resumes exactly after it.
 *
 * A commit that fails (broker down, group rebalancing) is remembered with the ids of the
 * events written: when the partition is read again from the older committed offset, the
 * records this process already wrote are skipped and the newer offset committed, so a
 * broker outage does not make the collector write everything in flight twice.
 *
 * Broker outages and kafkajs crashes do not end the process: the member reconnects with
 * capped backoff, logging once when the bus goes down and once when it is back.
 */
export class KafkajsConsumer implements BusConsumer {
  private readonly options: KafkaBusOptions;
  private readonly logger: Logger;
  private readonly labels: { component: string; client: 'kafkajs' };
  private readonly abort = new AbortController();
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private down = false;
  private stopped: (() => void) | undefined;
  private readonly uncommitted = new UncommittedWrites();
  /**
   * Reset once the member stayed in the group for STABLE_MS: failures long ago must not slow
   * a reconnect today, but a member that fails right after every join must not rejoin (and
   * rebalance the whole group) every half second.
   */
  private readonly reconnect = new Backoff(500, 30_000);
  private joinedAt: number | undefined;

  constructor(
    private readonly setup: ClientSetup,
    private readonly undecodable: ((records: readonly UndecodableRecord[]) => Promise<void>) | undefined,
  ) {
    this.options = setup.options;
    this.logger = setup.logger;
    this.labels = { component: setup.component, client: 'kafkajs' };
  }

  async start(deliver: (batch: AckableBatch) => Promise<void>): Promise<void> {
    // Connecting happens in the background: a collector starts (and answers signals) while
    // Kafka is still down.
    this.loop ??= this.run(deliver);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.stopped?.();
    await this.loop;
  }

  private async run(deliver: (batch: AckableBatch) => Promise<void>): Promise<void> {
    const signal = this.abort.signal;
    this.logger.info(
      { bus: describeBus(this.options), group: this.options.consumer.group_id, client: 'kafkajs' },
      'kafka consumer starting',
    );
    while (!signal.aborted) {
      const ended = new Promise<Error | undefined>((resolve) => (this.stopped = () => resolve(undefined)));
      let crashed: (err: Error) => void = () => {};
      const crash = new Promise<Error>((resolve) => (crashed = resolve));
      const consumer = this.createConsumer(crashed);
      this.consumer = consumer;
      let failure: Error | undefined;
      let watch: NodeJS.Timeout | undefined;
      try {
        await consumer.connect();
        const subscription = topicSubscription(this.options.topic);
        let matched: string[] = [];
        if (typeof subscription !== 'string') {
          matched = await this.matchingTopics(subscription);
          if (matched.length === 0)
            throw Object.assign(new Error(`no topic matches ${this.options.topic} yet`), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
        }
        // The topics the admin listed, by name: given the pattern, kafkajs would resolve it from a
        // metadata request of its own, which may not know a topic created just before; that topic
        // would be in `matched`, so the rescan below would never rejoin for it.
        await consumer.subscribe({
          topics: typeof subscription === 'string' ? [subscription] : matched,
          fromBeginning: this.options.consumer.start_at === 'beginning',
        });
        if (signal.aborted) break;
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.options.consumer.partitions_concurrently,
          eachBatch: (payload) => this.eachBatch(payload, deliver),
        });
        if (typeof subscription !== 'string') {
          // kafkajs consumes the topics it was subscribed to: topics created later (a new
          // service's first events) are picked up by rejoining with a fresh subscription.
          const known = new Set(matched);
          const newTopics = new Promise<Error>((resolve) => {
            watch = setInterval(() => {
              this.matchingTopics(subscription).then(
                (now) => {
                  const added = now.filter((t) => !known.has(t));
                  if (added.length > 0) resolve(Object.assign(new Error('new topics'), { added }));
                },
                () => undefined,
              );
            }, TOPIC_RESCAN_MS);
          });
          const first = await Promise.race([ended, crash, newTopics]);
          if (first && 'added' in first) {
            this.logger.info(
              { topics: (first as Error & { added: string[] }).added },
              'new topics match the subscription; rejoining the group to consume them',
            );
            clearInterval(watch);
            await consumer.disconnect().catch(() => undefined);
            continue;
          }
          failure = first;
        } else {
          failure = await Promise.race([ended, crash]);
        }
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      } finally {
        clearInterval(watch);
      }
      if (signal.aborted) break;
      if (failure) {
        if (!this.down) {
          this.down = true;
          if (isUnknownTopic(failure))
            this.logger.warn({ topic: this.options.topic }, 'topic does not exist yet (no agent has produced to it); waiting for it');
          else
            this.logger.error(
              { err: describeError(failure) },
              'kafka consumer failed; reconnecting with backoff, nothing is committed until batches are written',
            );
        }
        await consumer.disconnect().catch(() => undefined);
        if (this.joinedAt !== undefined && Date.now() - this.joinedAt >= STABLE_MS) this.reconnect.reset();
        this.joinedAt = undefined;
        await this.reconnect.sleep(signal);
      }
    }
    // Waits for the batches in flight to be acked and committed (or given up uncommitted
    // once the collector interrupts its sinks), then leaves the group.
    await this.consumer
      ?.disconnect()
      .catch((err: unknown) => this.logger.warn({ err: describeError(err) }, 'kafka consumer did not leave the group cleanly'));
    this.consumer = undefined;
  }

  private async matchingTopics(pattern: TopicPattern): Promise<string[]> {
    const admin = createKafka(this.setup, '-collector').admin();
    try {
      await admin.connect();
      return (await admin.listTopics()).filter(pattern.matches);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private createConsumer(crashed: (err: Error) => void): Consumer {
    const c = this.options.consumer;
    const consumer = createKafka(this.setup, '-collector').consumer({
      groupId: c.group_id,
      sessionTimeout: c.session_timeout,
      rebalanceTimeout: c.rebalance_timeout,
      heartbeatInterval: c.heartbeat_interval,
      maxBytesPerPartition: c.max_bytes_per_partition,
      maxBytes: c.max_bytes,
      maxWaitTimeInMs: c.max_wait,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 5, restartOnFailure: async () => true },
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // kafkajs restarts itself after retriable errors; anything else ends this consumer and
      // the loop in run() builds a new one.
      if (!payload.restart) crashed(payload.error);
      else if (!this.down) {
        this.down = true;
        this.logger.error({ err: describeError(payload.error) }, 'kafka consumer lost the bus; kafkajs is restarting it');
      }
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (this.down) {
        this.down = false;
        this.logger.info('kafka consumer is back in the group');
      }
      this.joinedAt = Date.now();
      this.uncommitted.retain(payload.memberAssignment);
      const assigned = Object.entries(payload.memberAssignment).map(([topic, partitions]) => `${topic}[${partitions.join(',')}]`);
      this.logger.info({ group: payload.groupId, partitions: assigned }, 'joined the consumer group');
    });
    return consumer;
  }

  private async eachBatch(payload: EachBatchPayload, deliver: (batch: AckableBatch) => Promise<void>): Promise<void> {
    const { batch, isRunning } = payload;
    if (!isRunning() || batch.messages.length === 0) return;
    const { topic, partition, messages } = batch;
    const written = this.uncommitted.get(topic, partition);
    const { events, ids, undecodable, skipped, bytes } = decodeBatch(topic, partition, messages, written);
    if (skipped > 0)
      this.logger.info(
        { topic, partition, offset: messages[0]!.offset, skipped },
        'skipped records this collector already wrote before their offset commit failed',
      );
    const last = batch.messages[batch.messages.length - 1]!.offset;
    const heartbeats = new Heartbeats(payload.heartbeat, this.options.consumer.heartbeat_interval);
    try {
      if (undecodable.length > 0) {
        busMetrics.undecodable.inc(this.labels, undecodable.length);
        await keepUndecodable(undecodable, this.undecodable, this.abort.signal, this.logger);
      }
      if (events.length > 0) await deliverAndWait(deliver, events, batch.topic, batch.partition);
    } catch (err) {
      heartbeats.stop();
      if (isRunning() && !this.abort.signal.aborted) {
        // Nothing of the batch is resolved, so kafkajs fetches the partition again from where
        // this batch began: never committed past, no seek needed. A seek would be wrong: kafkajs
        // keeps the seek of a partition the group moves away before the next fetch, and applies
        // it when the partition comes back, reading again what its other owner committed since.
        this.logger.error(
          { topic, partition, offset: batch.firstOffset(), err: describeError(err) },
          'batch not delivered; it will be read again',
        );
        await new Backoff(1000, 1000).sleep(this.abort.signal);
      }
      return;
    }
    heartbeats.stop();
    busMetrics.consumed.inc(this.labels, events.length);
    busMetrics.consumedBytes.inc(this.labels, bytes);
    payload.resolveOffset(last);
    const next = (BigInt(last) + 1n).toString();
    try {
      await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
      if (written) this.uncommitted.committed(topic, partition, BigInt(next));
    } catch (err) {
      busMetrics.commitFailures.inc(this.labels);
      this.uncommitted.remember(
        topic,
        partition,
        messages.map((m) => m.offset),
        ids,
      );
      this.logger.warn(
        { topic, partition, offset: next, err: describeError(err) },
        'offset commit failed: the batch was written; if it is read again, this collector skips what it already wrote',
      );
    }
    // A rebalance noticed while the sinks were writing, or a coordinator that stopped
    // answering: now that the batch is committed, kafkajs rejoins the group or retries.
    if (heartbeats.error) throw heartbeats.error;
  }
}

function isUnknownTopic(err: Error): boolean {
  return (
    (err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION' || describeError(err).includes('does not host this topic-partition')
  );
}

/** Heartbeat errors after which kafkajs rejoins the group (its `isRebalancing`, and a member the coordinator forgot). */
const REJOIN_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);
/** The group has dropped this member or moved past its generation: no heartbeat can keep it in. */
const MEMBER_GONE_ERRORS = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

/**
 * Heartbeats while a batch is being written, so a slow sink does not get this member thrown
 * out of the group: kafkajs's own heartbeats wait behind the batch. A heartbeat error is
 * kept, not thrown: the batch is finished and committed first, then the error makes kafkajs
 * rejoin. Heartbeats go on after an error: during a rebalance each still renews the member's
 * session while the coordinator waits up to rebalance_timeout for it to rejoin, and a timeout
 * while the coordinator restarts is followed by heartbeats it answers. They stop once the
 * group has dropped the member.
 */
class Heartbeats {
  error: Error | undefined;
  /** `error` asks for a rejoin: a later heartbeat that succeeds does not clear it. */
  private rejoin = false;
  private readonly timer: NodeJS.Timeout;
  private inFlight = false;

  constructor(heartbeat: () => Promise<void>, intervalMs: number) {
    // kafkajs sends one only once intervalMs passed since its last answer: ticking at the
    // interval itself would find it not yet due every other tick.
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = true;
      heartbeat().then(
        () => {
          this.inFlight = false;
          if (!this.rejoin) this.error = undefined;
        },
        (err: unknown) => {
          this.inFlight = false;
          const error = err instanceof Error ? err : new Error(String(err));
          const type = (err as { type?: unknown } | undefined)?.type;
          if (typeof type === 'string' && REJOIN_ERRORS.has(type)) {
            this.error = error;
            this.rejoin = true;
            if (MEMBER_GONE_ERRORS.has(type)) this.stop();
          } else if (!this.rejoin) this.error = error;
        },
      );
    }, intervalMs / 2);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

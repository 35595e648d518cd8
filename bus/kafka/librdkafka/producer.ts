import type { LogEvent } from '../../../core/event.js';
import { type Logger, OutageLog } from '../../../core/log.js';
import type { BusProducer, RefusedEvent } from '../../../core/pipeline.js';
import { encodeEvent, encodeEventString } from '../../../core/wire.js';
import { type ClientSetup, SENDS_IN_FLIGHT } from '../client.js';
import { busMetrics } from '../metrics.js';
import { describeBus, type KafkaBusOptions, keyRenderer, recordPlacement } from '../options.js';
import { Placement } from '../placement.js';
import { keepRefused, refusalOf, refusedEvent } from '../refusal.js';
import { AckedMemory, type SendAttempt, sendSkippingSettled } from '../resend.js';
import { TopicNamer } from '../topic-names.js';
import { connectTimeout, producerConfig } from './config.js';
import { Deliveries, STALLED, type SendOutcome, Unreported, within } from './deliveries.js';
import { PartitionCounts } from './partition-counts.js';
import { type BatchOutcome, ProduceBatch } from './produce-batch.js';
import { StalledRecords } from './stalled.js';
import {
  ERR,
  isOutage,
  type Metadata,
  type NativeAdmin,
  type NativeError,
  type NativeProducer,
  describeNativeError,
  loadNative,
  releaseFailedConnect,
} from './native.js';

/**
 * The agent's Kafka side on librdkafka's native producer. send() hands every record to
 * librdkafka at once (it batches per partition, compresses and pipelines requests in its
 * own threads, idempotent with acks=all) and resolves when every record's delivery report
 * says it was acked; if any failed, it waits for all the others to report, then rejects
 * and the forwarder rolls the channel transaction back. The acked records of that send are
 * remembered and not sent again when the transaction comes back.
 *
 * librdkafka reconnects and retries on its own, for as long as it takes: a record is only
 * ever retried with its own producer id and sequence number, which the broker uses to drop
 * a copy it already has. A send whose records are not all acked within request_timeout
 * fails (the forwarder rolls back and logs the outage), but its records stay queued; when
 * its events come back, those still queued are waited for, not produced a second time
 * (StalledRecords). A producer hit by a fatal error is replaced by a new one.
 *
 * A record Kafka refuses for good (bus/kafka/refusal.ts) is not an outage: it goes to
 * `refused` (the agent's dead-letter) and the rest of the send goes on. The broker refuses a
 * whole record batch for a record too large or invalid, so the records reported with such an
 * error are produced again one at a time, each waiting for its report: those refused on
 * their own are the culprits, the others are acked. send() resolves once every record is
 * acked or kept by `refused`.
 *
 * Sends run concurrently on the one producer, and librdkafka batches whatever is queued for a
 * partition: a record "alone" beside another send's records would be refused again for their
 * culprit, and dead-lettered for it. So a send produces records alone in an alone phase, which
 * takes its turn in the hand-over order (the sends called after it hand nothing over until it
 * ends, and are not waited for) and starts once every record handed over before it was
 * reported: librdkafka is done with a record once it reported it, retries included. A retry of
 * librdkafka's own would not take the alone record in: this idempotent producer rebuilds a
 * batch it retries with exactly the records of its first send (rdkafka_msgset_writer.c,
 * "Reconstructed MessageSet"); a record queued and not sent yet would. If they are not all
 * reported within request_timeout, the send fails as in an outage.
 *
 * With topic_max_distinct over a templated topic, the first send lists the cluster's topics
 * before it names any event, so the combinations that have a topic keep it (topic-names.ts);
 * while the listing fails, so does the send. The topic decisions it makes are written before
 * a record they name is handed over or a topic they name is created (TopicNamer.recorded),
 * read back at open; a write that fails is logged and does not hold the send back.
 */
export class LibrdkafkaProducer implements BusProducer {
  readonly batch: BusProducer['batch'];
  readonly maxInFlight = SENDS_IN_FLIGHT.librdkafka;
  private readonly options: KafkaBusOptions;
  private readonly logger: Logger;
  private readonly labels: { component: string; client: 'librdkafka' };
  private readonly outage: OutageLog;
  private readonly deliveries = new Deliveries();
  private readonly stalled = new StalledRecords();
  private readonly acked = new AckedMemory<LogEvent>((e) => e.id, 'from-oldest-failed');
  private readonly ensured = new Set<string>();
  private readonly topics: TopicNamer;
  /** The record key; undefined: records have none. */
  private readonly keyOf: ((e: LogEvent) => string) | undefined;
  /** What places a record when it is not its key (librdkafka's partitioner places by key); see placement.ts. */
  private readonly placeBy: ((e: LogEvent) => string) | undefined;
  private readonly placement = new Placement();
  private readonly partitionCounts = new PartitionCounts();
  private producer: Promise<NativeProducer> | undefined;
  /** Settles once the send called last has handed its records to librdkafka, or the alone phase started last has ended. */
  private handOver: Promise<void> = Promise.resolve();
  /**
   * Each native producer's records not reported yet (see startAlone). Kept per producer: one
   * discarded on a fatal error never reports the rest, and no alone phase on the next one
   * waits for them.
   */
  private readonly queues = new WeakMap<NativeProducer, Unreported>();
  /** The record headers of each service/module seen, made once (see headersOf). */
  private readonly headerCache = new Map<string, Record<string, Buffer>[]>();
  /** The records of a produce() on their way to librdkafka, handed over in batches (produce-batch.ts). */
  private readonly records = new ProduceBatch();
  /** Where each record of `records` is in the produce() call's events. */
  private readonly recordsAt: number[] = [];
  /** Record keys as bytes (see keyBytes). */
  private readonly keyCache = new Map<string, Buffer>();
  /** The producer once connected; a connect under way is `producer` alone. */
  private live: NativeProducer | undefined;
  /** Bumped by discard(), so a connect that ends after it does not become `live`. */
  private generation = 0;
  private admin: NativeAdmin | undefined;

  constructor(
    private readonly setup: ClientSetup,
    private readonly refused: ((events: readonly RefusedEvent[]) => Promise<void>) | undefined,
  ) {
    this.options = setup.options;
    this.logger = setup.logger;
    this.labels = { component: setup.component, client: 'librdkafka' };
    this.outage = new OutageLog(this.logger, { what: 'kafka' });
    this.batch = { maxEvents: this.options.producer.batch.max_events, timeoutMs: this.options.producer.batch.timeout };
    this.topics = new TopicNamer(this.options.topic, {
      maxDistinct: this.options.topic_max_distinct,
      component: setup.component,
      logger: setup.logger,
      dataDir: setup.dataDir,
    });
    const { key, partitionBy } = recordPlacement(this.options.producer);
    this.keyOf = key === undefined ? undefined : keyRenderer(key);
    this.placeBy = partitionBy === key ? undefined : keyRenderer(partitionBy);
  }

  /** Connecting waits for the first send, so an agent starts (and buffers) while Kafka is down. */
  async open(): Promise<void> {
    await this.topics.open();
    this.logger.info({ bus: describeBus(this.options), client: 'librdkafka' }, 'kafka producer configured; connects on the first send');
  }

  send(all: readonly LogEvent[]): Promise<void> {
    return sendSkippingSettled(this.acked, all, this.logger, (attempt) => this.sendAttempt(attempt));
  }

  private async sendAttempt(attempt: SendAttempt<LogEvent>): Promise<void> {
    const { items: events } = attempt;
    // Sends in flight hand their records over in the order they were called (the order the
    // forwarder took them), so a key's records reach their partition in channel order.
    const turn = this.handOver;
    let handedOver!: () => void;
    this.handOver = new Promise<void>((resolve) => (handedOver = resolve));
    let producer: NativeProducer;
    const sizes = new Uint32Array(events.length);
    let sending: Promise<SendOutcome> | undefined;
    try {
      await turn;
      if (events.length === 0) return;
      try {
        producer = await this.connected();
        await this.topics.prepare(() => topicNames(producer, this.options), describeNativeError);
        const { create_topics } = this.options.producer;
        // Named up front only when needed (produce() names each record as it hands it over):
        // kept topic decisions are on disk before a record they name leaves, or a topic they
        // name is made. recorded() never rejects, so it cannot discard the client.
        if (create_topics || this.placeBy || this.topics.keepsDecisions) {
          const topics = this.topicsOf(events);
          await this.topics.recorded();
          if (create_topics) await this.ensureTopics(producer, topics);
          if (this.placeBy) await this.partitionCounts.ensure(topics, (topic) => metadataOf(producer, topic, this.options));
        }
      } catch (err) {
        busMetrics.produceFailures.inc(this.labels);
        await this.discard();
        throw new Error(`kafka produce failed: ${describeNativeError(err)}`);
      }
      sending =
        this.stalled.size === 0
          ? this.produce(producer, events, 0, events.length, sizes)
          : this.produceUnlessQueued(producer, events, sizes);
    } finally {
      handedOver();
    }
    if (!sending) return;
    const { acked, failed } = await sending;
    let outage: NativeError | undefined;
    const refused: RefusedEvent[] = [];
    const refusedAt: number[] = [];
    const alone: number[] = [];
    for (const [i, err] of failed) {
      // The topic was deleted and made again, with fewer partitions: count them again.
      if (this.placeBy && (err.code === ERR.UNKNOWN_PARTITION || err.code === ERR.UNKNOWN_TOPIC_OR_PART))
        this.partitionCounts.forget(this.topics.name(events[i]!));
      const refusal = refusalOf(err);
      if (!refusal) outage ??= err;
      // Refused with its batch (it was handed over: sizes[i] > 0): alone, it tells whose fault it was.
      else if (refusal.sharedWithBatch && sizes[i]! > 0) alone.push(i);
      else {
        refused.push(
          refusedEvent(events[i]!, this.topics.name(events[i]!), encodedSize(events[i]!, sizes[i]!), refusal, describeNativeError(err)),
        );
        refusedAt.push(i);
      }
    }
    let stalledAlone = 0;
    /** Records handed over before this send's alone phase, still not reported when it gave up waiting for them. */
    let othersQueued = 0;
    // During an outage they wait for the retry of the whole send, like the records not acked.
    // A record produced alone lands after the records of every send handed over before its
    // alone phase (later ones of its key included) and before those of the sends held by it.
    if (!outage && alone.length > 0) {
      this.logger.warn(
        { events: alone.length, topic: this.topics.name(events[alone[0]!]!), err: describeNativeError(failed.get(alone[0]!)!) },
        'kafka refused a record batch for good; producing its records one by one to find the ones it refuses',
      );
      const phase = await this.startAlone(producer);
      try {
        othersQueued = phase.othersQueued;
        for (const i of alone) {
          if (outage || othersQueued > 0) break;
          const [again] = (await this.produce(producer, events, i, 1, sizes)).failed.values();
          const refusal = again && refusalOf(again);
          if (!again) acked[i] = 1;
          else if (!refusal) {
            outage ??= again;
            if (again === STALLED) stalledAlone++;
          } else {
            refused.push(refusedEvent(events[i]!, this.topics.name(events[i]!), sizes[i]!, refusal, describeNativeError(again)));
            refusedAt.push(i);
          }
        }
      } finally {
        phase.end();
      }
    }
    let bytes = 0;
    for (let i = 0; i < events.length; i++) if (acked[i] === 1) bytes += sizes[i]!;
    let unkept: Error | undefined;
    try {
      await keepRefused(refused, this.refused);
      // Not sent again if the send fails: the dead-letter has them.
      for (const i of refusedAt) acked[i] = 1;
    } catch (err) {
      unkept = err as Error;
    }
    if (outage || othersQueued > 0 || unkept) {
      busMetrics.produceFailures.inc(this.labels);
      this.acked.failed(attempt, (i) => acked[i] === 1);
      if (outage?.isFatal) await this.discard();
      if (othersQueued > 0)
        throw new Error(
          `kafka produce failed: ${othersQueued} records of other sends not acked within ${this.options.producer.request_timeout} ms; ${alone.length} of ${events.length} records refused with their batch not produced alone yet`,
        );
      if (!outage) throw unkept;
      if (outage !== STALLED) throw new Error(`kafka produce failed: ${describeNativeError(outage)}`);
      let waiting = stalledAlone;
      for (const err of failed.values()) if (err === STALLED) waiting++;
      throw new Error(
        `kafka produce failed: ${waiting} of ${events.length} records not acked within ${this.options.producer.request_timeout} ms; librdkafka keeps them queued and retrying, and they are not produced again`,
      );
    }
    this.outage.ok();
    busMetrics.produced.inc(this.labels, events.length - refused.length);
    busMetrics.producedBytes.inc(this.labels, bytes);
  }

  /**
   * Hands events[from, from+count) to librdkafka and waits for every report; the outcome is
   * indexed by position in `events`. `sizes` gets each value's size (0: never handed over).
   */
  private async produce(
    producer: NativeProducer,
    events: readonly LogEvent[],
    from: number,
    count: number,
    sizes: Uint32Array,
  ): Promise<SendOutcome> {
    const headers = this.options.producer.headers;
    const queue = this.queues.get(producer)!;
    const sending = this.deliveries.start(count);
    const batch = this.records;
    /** Where each record of the batch is in this call: batch record j is events[from + at[j]]. */
    const at = this.recordsAt;
    // Empty unless a produce() ended by an exception: its records were not handed over.
    batch.clear();
    at.length = 0;
    /**
     * Hands the batch over; a record librdkafka refuses for good (too large for the client)
     * fails alone, and the rest go on. Any other error fails that record and the batch's
     * records after it, never handed over, and is returned: nothing more is produced.
     */
    const handOver = (): NativeError | undefined => {
      let next = 0;
      let stop: NativeError | undefined;
      while (next < batch.count) {
        let outcome: BatchOutcome<NativeError>;
        try {
          outcome = producer.produceBatch(batch, next, sending.base);
        } catch (err) {
          // A producer closed meanwhile: nothing of the batch from `next` on was handed over.
          outcome = { next, error: err as NativeError };
        }
        for (let j = next; j < outcome.next; j++) queue.handedOver();
        if (!outcome.error) break;
        const failed = at[outcome.next]!;
        sizes[from + failed] = 0;
        sending.failOne(failed, outcome.error);
        next = outcome.next + 1;
        if (refusalOf(outcome.error)) continue;
        stop = outcome.error;
        for (let j = next; j < batch.count; j++) {
          sizes[from + at[j]!] = 0;
          sending.failOne(at[j]!, stop);
        }
        break;
      }
      batch.clear();
      at.length = 0;
      return stop;
    };
    for (let i = 0; i < count; i++) {
      const event = events[from + i]!;
      const topic = this.topics.name(event);
      let partition: number | null = null;
      if (this.placeBy) {
        const count = this.partitionCounts.count(topic);
        if (typeof count !== 'number') {
          // That topic's records fail as in an outage (sent again with the transaction); the others go on.
          sizes[from + i] = 0;
          sending.failOne(i, count);
          continue;
        }
        partition = this.placement.partitionOf(this.placeBy(event), count);
      }
      const key = this.keyOf ? this.keyBytes(this.keyOf(event)) : null;
      sizes[from + i] = batch.add(topic, partition, encodeEventString(event), key, headers ? this.headersOf(event) : undefined, i);
      at.push(i);
      if (!batch.full) continue;
      const stop = handOver();
      if (stop) {
        // The records after the batch were never handed over either.
        if (i + 1 < count) sending.failFrom(i + 1, stop);
        break;
      }
    }
    if (batch.count > 0) handOver();
    let outcome = await within(this.options.producer.request_timeout, sending.outcome);
    if (!outcome) {
      // Given up waiting: what has not reported is still queued, held for when its events come back.
      const late = new Map<number, (err: NativeError | null) => void>();
      outcome = sending.giveUp((i, err) => late.get(i)?.(err));
      for (const [i, err] of outcome.failed) if (err === STALLED) late.set(i, this.stalled.hold(events[from + i]!.id));
    }
    if (from === 0 && count === events.length) return outcome;
    const acked = new Uint8Array(events.length);
    const failed = new Map<number, NativeError>();
    for (let i = 0; i < count; i++) if (outcome.acked[i] === 1) acked[from + i] = 1;
    for (const [i, err] of outcome.failed) failed.set(from + i, err);
    return { acked, failed };
  }

  /**
   * Starts an alone phase: takes its turn in the hand-over order (the sends called after it
   * hand nothing over until `end` is called, so it does not wait for them), then waits for
   * librdkafka to report every record handed over before it. `othersQueued`: 0, or how many
   * are still not reported after request_timeout.
   */
  private async startAlone(producer: NativeProducer): Promise<{ othersQueued: number; end: () => void }> {
    const turn = this.handOver;
    let end!: () => void;
    this.handOver = new Promise<void>((resolve) => (end = resolve));
    await turn;
    return { othersQueued: await this.queues.get(producer)!.settled(this.options.producer.request_timeout), end };
  }

  /**
   * produce() for a send some of whose events librdkafka still holds from a send given up
   * on: those wait for the report of the record already queued (a copy would get a new
   * sequence number, which the broker cannot tell from a new record); the rest are produced.
   * They are queued behind the held ones, so a key's records keep their order.
   */
  private async produceUnlessQueued(producer: NativeProducer, events: readonly LogEvent[], sizes: Uint32Array): Promise<SendOutcome> {
    const fresh: LogEvent[] = [];
    const freshAt: number[] = [];
    /** 1: held from the send given up on, waited for instead of produced. */
    const held = new Uint8Array(events.length);
    const queued: Promise<void>[] = [];
    const acked = new Uint8Array(events.length);
    const failed = new Map<number, NativeError>();
    const reported = new Map<number, NativeError | null>();
    for (let i = 0; i < events.length; i++) {
      const id = events[i]!.id;
      const report = this.stalled.claim(id);
      if (!report) {
        fresh.push(events[i]!);
        freshAt.push(i);
        continue;
      }
      held[i] = 1;
      // Forgotten (settled) only once this attempt's outcome used the report, below: a
      // report that comes after the attempt gave up waiting stays with the held record, for
      // the next attempt; forgotten then, the record would be produced a second time.
      queued.push(report.then((err) => void reported.set(i, err)));
    }
    if (queued.length > 0)
      this.logger.info(
        { events: events.length, queued: queued.length },
        'waiting for the records librdkafka still holds from a send given up on, not producing them again',
      );
    const freshSizes = new Uint32Array(fresh.length);
    const producing = this.produce(producer, fresh, 0, fresh.length, freshSizes);
    const waited = await within(this.options.producer.request_timeout, Promise.all(queued));
    const outcome = await producing;
    for (let j = 0; j < fresh.length; j++) {
      const i = freshAt[j]!;
      sizes[i] = freshSizes[j]!;
      if (outcome.acked[j] === 1) acked[i] = 1;
      const err = outcome.failed.get(j);
      if (err) failed.set(i, err);
    }
    for (let i = 0; i < events.length; i++) {
      if (held[i] === 0) continue;
      // Handed over, by the send given up on: a refusal shared with its batch is tried alone.
      sizes[i] = encodeEvent(events[i]!).length;
      if (!reported.has(i)) {
        if (!waited) failed.set(i, STALLED);
        continue;
      }
      this.stalled.settled(events[i]!.id);
      const err = reported.get(i)!;
      if (err === null) acked[i] = 1;
      else failed.set(i, err);
    }
    return { acked, failed };
  }

  /**
   * The record key as bytes, made once per distinct key (the template hands back one string
   * per name). The binding copies a string key into a new C++ string for every record; a
   * Buffer it reads in place. Bounded like the header cache.
   */
  private keyBytes(key: string): Buffer {
    let b = this.keyCache.get(key);
    if (!b) {
      if (this.keyCache.size >= HEADER_CACHE_MAX) this.keyCache.clear();
      b = Buffer.from(key);
      this.keyCache.set(key, b);
    }
    return b;
  }

  /**
   * The service/module headers of an event. The binding reads them synchronously and keeps
   * nothing, so one array per pair serves every record: three objects fewer per record,
   * which the garbage collector otherwise sweeps by the million. Values are Buffers, which
   * the binding reads in place instead of converting a string per header per record.
   * Bounded: a flood of distinct pairs starts the cache over.
   */
  private headersOf(event: LogEvent): Record<string, Buffer>[] {
    const pair = `${event.service}\u0000${event.module}`;
    let headers = this.headerCache.get(pair);
    if (!headers) {
      if (this.headerCache.size >= HEADER_CACHE_MAX) this.headerCache.clear();
      headers = [{ service: Buffer.from(event.service) }, { module: Buffer.from(event.module) }];
      this.headerCache.set(pair, headers);
    }
    return headers;
  }

  /**
   * Gives records librdkafka still holds a short while to be acked, then disconnects. By now
   * the forwarder has given up on any send still out (its events stay in the channel), so
   * close never waits for a broker that is down: not for a connect under way, nor for longer
   * than CLOSE_FLUSH_MS.
   */
  async close(): Promise<void> {
    const producer = this.live;
    if (producer) {
      const timeout = Math.min(this.options.producer.request_timeout, CLOSE_FLUSH_MS);
      await new Promise<void>((resolve) => {
        try {
          producer.flush(timeout, () => resolve());
        } catch {
          resolve();
        }
      });
    }
    await this.discard();
    await this.topics.close();
  }

  private connected(): Promise<NativeProducer> {
    const generation = this.generation;
    this.producer ??= new Promise<NativeProducer>((resolve, reject) => {
      const native = loadNative();
      const producer = new native.Producer(producerConfig(this.setup, '-agent'));
      const queue = new Unreported();
      this.queues.set(producer, queue);
      producer.on('delivery-report', (err, report) => {
        this.deliveries.report(err, report);
        queue.reported();
      });
      producer.on('event.error', (err) => {
        // Brokers going away is what the outage log is for; the rest is detail.
        if (isOutage(err)) this.outage.failed(describeNativeError(err));
        else this.logger.debug({ err: describeNativeError(err) }, 'librdkafka producer error');
      });
      producer.on('event.log', (log) => this.logger.debug({ librdkafka: log.message, severity: log.severity }, 'librdkafka producer log'));
      producer.connect({ timeout: connectTimeout(this.options) }, (err) => {
        if (err) {
          // The binding has disconnected it already, and kept it from being collected.
          releaseFailedConnect(producer);
          reject(err);
          return;
        }
        // Delivery reports are served by librdkafka's own thread as they arrive, not on a
        // polling timer that would add its period to every send.
        producer.setPollInBackground(true);
        this.logger.info({ brokers: this.options.brokers, client: 'librdkafka' }, 'kafka producer connected');
        if (generation === this.generation) this.live = producer;
        resolve(producer);
      });
    });
    // A failed connect is retried by the next send.
    const connecting = this.producer;
    connecting.catch(() => {
      if (this.producer === connecting) this.producer = undefined;
    });
    return connecting;
  }

  private topicsOf(events: readonly LogEvent[]): Set<string> {
    const topics = new Set<string>();
    for (const e of events) topics.add(this.topics.name(e));
    return topics;
  }

  private async ensureTopics(producer: NativeProducer, topics: ReadonlySet<string>): Promise<void> {
    const missing = new Set<string>();
    for (const topic of topics) if (!this.ensured.has(topic)) missing.add(topic);
    if (missing.size === 0) return;
    this.admin ??= loadNative().AdminClient.createFrom(producer);
    const admin = this.admin;
    const { partitions, replication_factor } = this.options.producer;
    const created: string[] = [];
    for (const topic of missing) {
      await new Promise<void>((resolve, reject) =>
        admin.createTopic({ topic, num_partitions: partitions, replication_factor }, this.options.producer.request_timeout, (err) => {
          if (!err) created.push(topic);
          if (!err || err.code === ERR.TOPIC_ALREADY_EXISTS) resolve();
          else reject(err);
        }),
      );
      this.ensured.add(topic);
    }
    if (created.length > 0) this.logger.info({ topics: created, partitions, replication_factor }, 'created kafka topics');
  }

  private async discard(): Promise<void> {
    const pending = this.producer;
    const live = this.live;
    const admin = this.admin;
    this.producer = undefined;
    this.live = undefined;
    this.admin = undefined;
    this.generation++;
    admin?.disconnect();
    // A connect still under way (brokers unreachable) is not waited for: it is disconnected
    // when it ends.
    if (!live)
      void pending?.then(
        (p) => disconnectQuietly(p),
        () => undefined,
      );
    if (live) await disconnectQuietly(live);
    const closed = Object.assign(new Error('kafka producer closed'), { code: -1 });
    this.deliveries.abandon(closed);
    this.stalled.clear(closed);
  }
}

function metadataOf(producer: NativeProducer, topic: string, options: KafkaBusOptions): Promise<Metadata> {
  return new Promise((resolve, reject) =>
    producer.getMetadata({ topic, timeout: options.producer.request_timeout }, (err, metadata) => (err ? reject(err) : resolve(metadata))),
  );
}

/** Every topic of the cluster, from one metadata request (bounded like connect: the binding waits on a threadpool thread). */
function topicNames(producer: NativeProducer, options: KafkaBusOptions): Promise<string[]> {
  return new Promise((resolve, reject) =>
    producer.getMetadata({ timeout: connectTimeout(options) }, (err, metadata) =>
      err ? reject(err) : resolve(metadata.topics.map((t) => t.name)),
    ),
  );
}

/** The value size of an event produce() refused before sending it (not measured then). */
function encodedSize(event: LogEvent, measured: number): number {
  return measured > 0 ? measured : encodeEvent(event).length;
}

/** Most service/module pairs whose headers, and most keys whose bytes, are kept made. */
const HEADER_CACHE_MAX = 1024;

/** How long close() lets librdkafka deliver what it still holds. */
const CLOSE_FLUSH_MS = 2000;

function disconnectQuietly(producer: NativeProducer): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      producer.disconnect(() => resolve());
    } catch {
      // Already disconnected: nothing left to release.
      resolve();
    }
  });
}

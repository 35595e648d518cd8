import type { Admin, ICustomPartitioner, Message, Producer, TopicMessages } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { BusProducer, RefusedEvent } from '../../../core/pipeline.js';
import { encodeEvent } from '../../../core/wire.js';
import type { ClientSetup } from '../client.js';
import { busMetrics } from '../metrics.js';
import { describeBus, type KafkaBusOptions, keyRenderer, recordPlacement } from '../options.js';
import { keepRefused, refusalOf, refusedEvent } from '../refusal.js';
import { AckedMemory, type SendAttempt, sendSkippingSettled } from '../resend.js';
import { TopicNamer } from '../topic-names.js';
import { createKafka, describeError } from './config.js';

const { CompressionTypes, Partitioners } = kafkajs;

/**
 * The agent's Kafka side. send() resolves only when every record of the batch is acked by
 * all in-sync replicas (acks=-1) through an idempotent producer; any failure rejects, and
 * the forwarder rolls the channel transaction back and retries with capped backoff.
 *
 * After a failed send the kafkajs producer is thrown away and a new one made for the next
 * attempt: the idempotent producer's sequence numbers may have gaps after an abandoned
 * request, and a fresh producer id is the one reliable way out of the "out of order
 * sequence number" loop kafkajs users report after broker restarts.
 *
 * A send larger than batch.max_bytes goes out as several requests. When one fails after
 * earlier ones were acked, the forwarder rolls the whole transaction back and the channel
 * hands the same events again, in order; the producer remembers the ids of the acked
 * prefix and skips it on that retry, so only the unacked part is sent twice at most.
 *
 * A request Kafka refuses for good (bus/kafka/refusal.ts: too large, invalid, a topic it
 * may not write) is not an outage: a one-record request refused is that record's fault, and
 * it goes to `refused` (the agent's dead-letter); a larger one is sent again one record per
 * request, so the refusal lands on the records that cause it. kafkajs rejects the whole
 * request on the first partition's error without saying which partitions the broker
 * appended, so that split may send records of the other partitions twice; it does not
 * happen while batch.max_bytes stays below the topic's max.message.bytes (a record larger
 * than batch.max_bytes is always a request of its own). send() resolves once every record
 * is acked or kept by `refused`.
 *
 * With topic_max_distinct over a templated topic, the first send lists the cluster's topics
 * before it names any event, so the combinations that have a topic keep it (topic-names.ts);
 * while the listing fails, so does the send. The topic decisions it makes are written before
 * a record they name is sent (TopicNamer.recorded), read back at open; a write that fails is
 * logged and does not hold the send back.
 */
export class KafkajsProducer implements BusProducer {
  readonly batch: BusProducer['batch'];
  private readonly options: KafkaBusOptions;
  private readonly logger: Logger;
  private readonly labels: { component: string; client: 'kafkajs' };
  private kafka: ReturnType<typeof createKafka> | undefined;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private readonly ensured = new Set<string>();
  private readonly topics: TopicNamer;
  /** The record key; undefined: records have none. */
  private readonly keyOf: ((e: LogEvent) => string) | undefined;
  /** What places a record when it is not its key (see cachingPartitioner). */
  private readonly placeBy: ((e: LogEvent) => string) | undefined;
  private readonly compression: kafkajs.CompressionTypes;
  private readonly acked = new AckedMemory<LogEvent>((e) => e.id, 'from-oldest-failed');

  constructor(
    private readonly setup: ClientSetup,
    private readonly refused: ((events: readonly RefusedEvent[]) => Promise<void>) | undefined,
  ) {
    const options = setup.options;
    this.options = options;
    this.logger = setup.logger;
    this.labels = { component: setup.component, client: 'kafkajs' };
    this.batch = { maxEvents: options.producer.batch.max_events, timeoutMs: options.producer.batch.timeout };
    this.topics = new TopicNamer(options.topic, {
      maxDistinct: options.topic_max_distinct,
      component: setup.component,
      logger: setup.logger,
      dataDir: setup.dataDir,
    });
    const { key, partitionBy } = recordPlacement(options.producer);
    this.keyOf = key === undefined ? undefined : keyRenderer(key);
    this.placeBy = partitionBy === key ? undefined : keyRenderer(partitionBy);
    this.compression = options.producer.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  /** Reads TLS files and builds the client; connecting waits for the first send, so an agent starts (and buffers) while Kafka is down. */
  async open(): Promise<void> {
    await this.topics.open();
    this.kafka = createKafka(this.setup, '-agent');
    this.logger.info({ bus: describeBus(this.options), client: 'kafkajs' }, 'kafka producer configured; connects on the first send');
  }

  send(all: readonly LogEvent[]): Promise<void> {
    return sendSkippingSettled(this.acked, all, this.logger, (attempt) => this.sendAttempt(attempt));
  }

  private async sendAttempt(attempt: SendAttempt<LogEvent>): Promise<void> {
    const { items: events } = attempt;
    if (events.length === 0) return;
    const sent: Sent = { acked: new Uint8Array(events.length), refused: [], refusedAt: [] };
    try {
      await this.topics.prepare(async () => (await this.connectedAdmin()).listTopics(), describeError);
      const chunks = this.chunk(events);
      // Every record is named: a new topic decision is on disk before a record or a topic it
      // names is made. recorded() never rejects (a write that fails is logged and tried again
      // by a later send), so it cannot discard the client here.
      await this.topics.recorded();
      if (this.options.producer.create_topics) {
        await this.connected();
        await this.ensureTopics(chunks);
      }
      for (const chunk of chunks) await this.sendChunk(chunk, sent);
    } catch (err) {
      busMetrics.produceFailures.inc(this.labels);
      // What this attempt settled is not sent again: the acked records, and the refused ones
      // once the dead-letter has them.
      const kept = await keepRefused(sent.refused, this.refused).then(
        () => true,
        () => false,
      );
      if (kept) for (const i of sent.refusedAt) sent.acked[i] = 1;
      this.acked.failed(attempt, (i) => sent.acked[i] === 1);
      await this.discard();
      throw new Error(`kafka produce failed: ${describeError(err)}`);
    }
    try {
      await keepRefused(sent.refused, this.refused);
    } catch (err) {
      busMetrics.produceFailures.inc(this.labels);
      this.acked.failed(attempt, (i) => sent.acked[i] === 1);
      throw err;
    }
  }

  /** Sends one request; a refusal for good is narrowed down to its records (see the class comment). */
  private async sendChunk(chunk: Chunk, sent: Sent): Promise<void> {
    const producer = await this.connected();
    try {
      await producer.sendBatch({
        topicMessages: topicMessages(chunk.records),
        acks: -1,
        timeout: this.options.producer.request_timeout,
        compression: this.compression,
      });
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal) throw err;
      const [only] = chunk.records;
      // One record is one partition the broker did not append: kafkajs took its sequence
      // number back rightly, and the producer goes on.
      if (chunk.records.length === 1 && only) {
        sent.refused.push(refusedEvent(only.event, only.topic, only.bytes, refusal, describeError(err)));
        sent.refusedAt.push(only.index);
        return;
      }
      // kafkajs took back the sequence numbers of every partition of the request, some of which
      // the broker may have appended: a fresh producer id keeps the next requests in sequence.
      await this.discard();
      this.logger.warn(
        { records: chunk.records.length, bytes: chunk.bytes, err: describeError(err) },
        'kafka refused a produce request for good; sending its records one by one to find the ones it refuses',
      );
      for (const record of chunk.records) await this.sendChunk({ bytes: record.bytes, records: [record] }, sent);
      return;
    }
    for (const r of chunk.records) sent.acked[r.index] = 1;
    busMetrics.produced.inc(this.labels, chunk.records.length);
    busMetrics.producedBytes.inc(this.labels, chunk.bytes);
  }

  async close(): Promise<void> {
    await this.discard();
    await this.topics.close();
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    if (!this.kafka) throw new Error('kafka producer used before open()');
    const producer = this.kafka.producer({
      idempotent: true,
      createPartitioner: cachingPartitioner,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // A few quick retries inside kafkajs for leader moves; a longer outage is the
      // forwarder's to wait out.
      retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 3000 },
    });
    this.producer = producer;
    await producer.connect();
    this.logger.info({ brokers: this.options.brokers, client: 'kafkajs' }, 'kafka producer connected');
    return producer;
  }

  private async ensureTopics(chunks: Chunk[]): Promise<void> {
    const missing = new Set<string>();
    for (const c of chunks) for (const r of c.records) if (!this.ensured.has(r.topic)) missing.add(r.topic);
    if (missing.size === 0) return;
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const create = [...missing].filter((t) => !existing.has(t));
    if (create.length > 0) {
      const { partitions, replication_factor } = this.options.producer;
      await admin.createTopics({
        waitForLeaders: true,
        topics: create.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: replication_factor })),
      });
      this.logger.info({ topics: create, partitions, replication_factor }, 'created kafka topics');
    }
    for (const t of missing) this.ensured.add(t);
  }

  /** The admin client of topic listing and creation, connected on first use; discard() disconnects it. */
  private async connectedAdmin(): Promise<Admin> {
    if (this.admin) return this.admin;
    if (!this.kafka) throw new Error('kafka producer used before open()');
    const admin = this.kafka.admin();
    this.admin = admin;
    await admin.connect();
    return admin;
  }

  /** Cuts events, in order, into requests of at most batch.max_bytes each (a larger record is a request of its own). */
  private chunk(events: readonly LogEvent[]): Chunk[] {
    const limit = this.options.producer.batch.max_bytes;
    const chunks: Chunk[] = [];
    const headers = this.options.producer.headers;
    let records: ChunkRecord[] = [];
    let bytes = 0;
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      const value = encodeEvent(event);
      const key = this.keyOf?.(event);
      const size = value.length + (key?.length ?? 0) + (headers ? event.service.length + event.module.length + 16 : 0) + 24;
      if (bytes > 0 && bytes + size > limit) {
        chunks.push({ bytes, records });
        records = [];
        bytes = 0;
      }
      const message: PlacedMessage = headers ? { key, value, headers: { service: event.service, module: event.module } } : { key, value };
      if (this.placeBy) message.placeBy = this.placeBy(event);
      records.push({ index, event, topic: this.topics.name(event), message, bytes: value.length });
      bytes += size;
    }
    if (records.length > 0) chunks.push({ bytes, records });
    return chunks;
  }

  private async discard(): Promise<void> {
    const producer = this.producer;
    const admin = this.admin;
    this.producer = undefined;
    this.admin = undefined;
    await Promise.all([producer?.disconnect().catch(() => undefined), admin?.disconnect().catch(() => undefined)]);
  }
}

interface ChunkRecord {
  /** The event's place in the send. */
  index: number;
  event: LogEvent;
  topic: string;
  message: Message;
  /** The encoded value's size. */
  bytes: number;
}

interface Chunk {
  /** Estimated request size. */
  bytes: number;
  records: ChunkRecord[];
}

/** What one send settled so far. */
interface Sent {
  /** 1 for each event Kafka acked. */
  acked: Uint8Array;
  refused: RefusedEvent[];
  /** The send indexes of `refused`. */
  refusedAt: number[];
}

/** One request's records grouped by topic, keeping their order within each topic. */
function topicMessages(records: readonly ChunkRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push(r.message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Distinct keys remembered per topic before the cache starts over (keys come from templates and may have many values). */
const PARTITION_CACHE_KEYS = 10_000;

/** A record and, when it is not placed by its key, the partition_by value that places it (kafkajs sends neither extra field). */
type PlacedMessage = Message & { placeBy?: string };

/**
 * kafkajs's default (Java-compatible) partitioner, computed once per key instead of once
 * per record: it filters the partition list and hashes the key for every message, a
 * visible share of produce CPU. Same key, same partition count => same partition as before.
 * A record with a partition_by value is placed as if that value were its key, as the
 * librdkafka producer places it (bus/kafka/placement.ts).
 */
export const cachingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const byTopic = new Map<string, { partitions: number; byKey: Map<string, number> }>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    const key = (message as PlacedMessage).placeBy ?? message.key;
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) return partitioner(args);
    let cache = byTopic.get(topic);
    if (!cache || cache.partitions !== partitionMetadata.length || cache.byKey.size >= PARTITION_CACHE_KEYS) {
      byTopic.set(topic, (cache = { partitions: partitionMetadata.length, byKey: new Map() }));
    }
    let partition = cache.byKey.get(key);
    if (partition === undefined) cache.byKey.set(key, (partition = partitioner({ ...args, message: { ...message, key } })));
    return partition;
  };
};

import type { Admin, ICustomPartitioner, Message, Producer, TopicMessages } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { BusProducer } from '../../../core/pipeline.js';
import { encodeEvent } from '../../../core/wire.js';
import type { ClientSetup } from '../client.js';
import { busMetrics } from '../metrics.js';
import { describeBus, type KafkaBusOptions, keyRenderer, topicRenderer } from '../options.js';
import { AckedMemory } from '../resend.js';
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
  private readonly topicOf: (e: LogEvent) => string;
  private readonly keyOf: (e: LogEvent) => string;
  private readonly compression: kafkajs.CompressionTypes;
  private readonly acked = new AckedMemory();

  constructor(private readonly setup: ClientSetup) {
    const options = setup.options;
    this.options = options;
    this.logger = setup.logger;
    this.labels = { component: setup.component, client: 'kafkajs' };
    this.batch = { maxEvents: options.producer.batch.max_events, timeoutMs: options.producer.batch.timeout };
    this.topicOf = topicRenderer(options.topic, {
      maxDistinct: options.topic_max_distinct,
      component: setup.component,
      logger: setup.logger,
    });
    this.keyOf = keyRenderer(options.producer.key);
    this.compression = options.producer.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  /** Reads TLS files and builds the client; connecting waits for the first send, so an agent starts (and buffers) while Kafka is down. */
  async open(): Promise<void> {
    this.kafka = createKafka(this.setup, '-agent');
    this.logger.info({ bus: describeBus(this.options), client: 'kafkajs' }, 'kafka producer configured; connects on the first send');
  }

  async send(all: readonly LogEvent[]): Promise<void> {
    const { events, skipped } = this.acked.take(all);
    if (skipped > 0) this.logger.info({ skipped, events: all.length }, 'not resending the events Kafka acked before the last send failed');
    if (events.length === 0) return;
    let done = 0;
    try {
      const producer = await this.connected();
      const chunks = this.chunk(events);
      if (this.options.producer.create_topics) await this.ensureTopics(chunks);
      for (const chunk of chunks) {
        await producer.sendBatch({
          topicMessages: chunk.topicMessages,
          acks: -1,
          timeout: this.options.producer.request_timeout,
          compression: this.compression,
        });
        done += chunk.events;
        busMetrics.produced.inc(this.labels, chunk.events);
        busMetrics.producedBytes.inc(this.labels, chunk.bytes);
      }
    } catch (err) {
      busMetrics.produceFailures.inc(this.labels);
      // Requests go out in order: the first `done` events are in Kafka.
      this.acked.failed(events, (i) => i < done);
      await this.discard();
      throw new Error(`kafka produce failed: ${describeError(err)}`);
    }
  }

  async close(): Promise<void> {
    await this.discard();
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
    for (const c of chunks) for (const t of c.topicMessages) if (!this.ensured.has(t.topic)) missing.add(t.topic);
    if (missing.size === 0) return;
    if (!this.admin) {
      this.admin = this.kafka!.admin();
      await this.admin.connect();
    }
    const existing = new Set(await this.admin.listTopics());
    const create = [...missing].filter((t) => !existing.has(t));
    if (create.length > 0) {
      const { partitions, replication_factor } = this.options.producer;
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: create.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: replication_factor })),
      });
      this.logger.info({ topics: create, partitions, replication_factor }, 'created kafka topics');
    }
    for (const t of missing) this.ensured.add(t);
  }

  /** Groups events by topic, in order, into requests of at most batch_bytes each. */
  private chunk(events: readonly LogEvent[]): Chunk[] {
    const limit = this.options.producer.batch.max_bytes;
    const chunks: Chunk[] = [];
    const headers = this.options.producer.headers;
    let byTopic = new Map<string, Message[]>();
    let bytes = 0;
    let count = 0;
    const flush = () => {
      if (byTopic.size === 0) return;
      chunks.push({ bytes, events: count, topicMessages: [...byTopic].map(([topic, messages]): TopicMessages => ({ topic, messages })) });
      byTopic = new Map();
      bytes = 0;
      count = 0;
    };
    for (const event of events) {
      const value = encodeEvent(event);
      const key = this.keyOf(event);
      const size = value.length + key.length + (headers ? event.service.length + event.module.length + 16 : 0) + 24;
      if (bytes > 0 && bytes + size > limit) flush();
      const topic = this.topicOf(event);
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(headers ? { key, value, headers: { service: event.service, module: event.module } } : { key, value });
      bytes += size;
      count++;
    }
    flush();
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

interface Chunk {
  bytes: number;
  events: number;
  topicMessages: TopicMessages[];
}

/** Distinct keys remembered per topic before the cache starts over (keys come from templates and may have many values). */
const PARTITION_CACHE_KEYS = 10_000;

/**
 * kafkajs's default (Java-compatible) partitioner, computed once per key instead of once
 * per record: it filters the partition list and hashes the key for every message, a
 * visible share of produce CPU. Same key, same partition count => same partition as before.
 */
export const cachingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const byTopic = new Map<string, { partitions: number; byKey: Map<string, number> }>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    const key = message.key;
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) return partitioner(args);
    let cache = byTopic.get(topic);
    if (!cache || cache.partitions !== partitionMetadata.length || cache.byKey.size >= PARTITION_CACHE_KEYS) {
      byTopic.set(topic, (cache = { partitions: partitionMetadata.length, byKey: new Map() }));
    }
    let partition = cache.byKey.get(key);
    if (partition === undefined) cache.byKey.set(key, (partition = partitioner(args)));
    return partition;
  };
};

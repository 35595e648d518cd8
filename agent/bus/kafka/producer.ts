import type { Admin, ICustomPartitioner, Message, Producer, TopicMessages } from 'kafkajs';
import kafkajs from 'kafkajs';
import { Counter } from 'prom-client';
import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import { metrics } from '../../../core/metrics.js';
import type { BusProducer } from '../../../core/pipeline.js';
import { encodeEvent } from '../../../core/wire.js';
import {
  createKafka,
  describeBus,
  describeError,
  keyRenderer,
  topicRenderer,
  type KafkaBusOptions,
} from '../../../core/bus/kafka-options.js';

const { CompressionTypes, Partitioners } = kafkajs;

const labelNames = ['component'] as const;
const producerMetrics = {
  events: new Counter({
    name: 'sluice_bus_produced_events_total',
    help: 'Events Kafka acknowledged (acks=all)',
    labelNames,
    registers: [metrics],
  }),
  bytes: new Counter({
    name: 'sluice_bus_produced_bytes_total',
    help: 'Encoded event bytes Kafka acknowledged',
    labelNames,
    registers: [metrics],
  }),
  failures: new Counter({
    name: 'sluice_bus_produce_failures_total',
    help: 'Sends that failed and were rolled back into the channel',
    labelNames,
    registers: [metrics],
  }),
};

/** How the forwarder should batch for this producer. */
export interface ProducerBatching {
  batchEvents: number;
  lingerMs: number;
}

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
 * A send larger than batch_bytes goes out as several requests. When one fails after
 * earlier ones were acked, the forwarder rolls the whole transaction back and the channel
 * hands the same events again, in order; the producer remembers the ids of the acked
 * prefix and skips it on that retry, so only the unacked part is sent twice at most.
 */
export class KafkaProducer implements BusProducer {
  readonly batching: ProducerBatching;
  private kafka: ReturnType<typeof createKafka> | undefined;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private readonly ensured = new Set<string>();
  private readonly topicOf: (e: LogEvent) => string;
  private readonly keyOf: (e: LogEvent) => string;
  private readonly compression: kafkajs.CompressionTypes;
  /** Ids of the leading events of the last failed send that Kafka had acked. */
  private acked: string[] = [];

  constructor(
    private readonly options: KafkaBusOptions,
    private readonly logger: Logger,
    private readonly component = 'bus',
  ) {
    this.batching = { batchEvents: options.producer.batch_events, lingerMs: options.producer.linger };
    this.topicOf = topicRenderer(options.topic, { maxDistinct: options.topic_max_distinct, component, logger });
    this.keyOf = keyRenderer(options.producer.key);
    this.compression = options.producer.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  /** Reads TLS files and builds the client; connecting waits for the first send, so an agent starts (and buffers) while Kafka is down. */
  async open(): Promise<void> {
    this.kafka = createKafka(this.options, this.logger, '-agent');
    this.logger.info({ bus: describeBus(this.options) }, 'kafka producer ready');
  }

  async send(all: readonly LogEvent[]): Promise<void> {
    const skip = ackedPrefix(this.acked, all);
    this.acked = [];
    const events = skip > 0 ? all.slice(skip) : all;
    if (skip > 0)
      this.logger.info({ skipped: skip, events: all.length }, 'not resending the events Kafka acked before the last send failed');
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
        producerMetrics.events.inc({ component: this.component }, chunk.events);
        producerMetrics.bytes.inc({ component: this.component }, chunk.bytes);
      }
    } catch (err) {
      producerMetrics.failures.inc({ component: this.component });
      this.acked = all.slice(0, skip + done).map((e) => e.id);
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
    const limit = this.options.producer.batch_bytes;
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

/**
 * How many leading events of `events` are the ones Kafka acked in the failed send before
 * (same ids, same order: a rolled-back transaction comes back unchanged). Anything else
 * means a different batch, and nothing is skipped.
 */
export function ackedPrefix(acked: readonly string[], events: readonly LogEvent[]): number {
  if (acked.length === 0 || acked.length > events.length) return 0;
  for (let i = 0; i < acked.length; i++) if (events[i]!.id !== acked[i]) return 0;
  return acked.length;
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

/**
 * The part of @confluentinc/kafka-javascript's native API (its node-rdkafka layer, not its
 * KafkaJS-compatible one) that the bus uses, typed here: the package is an optional
 * dependency, so Sluice must build and type-check where it did not install.
 */
import type { BatchOutcome, ProduceBatch } from './produce-batch.js';

export interface NativeError extends Error {
  code: number;
  isFatal?: boolean;
  isRetriable?: boolean;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

export interface NativeMessage extends TopicPartitionOffset {
  value: Buffer | null;
  size: number;
  key?: Buffer | string | null;
  /** ms since the epoch (CreateTime or LogAppendTime); -1 when the record has none. */
  timestamp?: number;
}

export interface DeliveryReport extends TopicPartitionOffset {
  opaque?: unknown;
}

/** What the binding's getMetadata gives (a topic the cluster does not know has no partitions). */
export interface Metadata {
  topics: { name: string; partitions: { id: number }[] }[];
}

export type Config = Record<string, string | number | boolean | ((...args: never[]) => void)>;

interface NativeClient {
  connect(options: { timeout?: number; topic?: string }, cb: (err: NativeError | null) => void): this;
  disconnect(cb: (err: NativeError | null) => void): this;
  on(event: 'event.error', listener: (err: NativeError) => void): this;
}

export interface NativeProducer extends NativeClient {
  produce(
    topic: string,
    partition: number | null,
    /** Any byte view: the addon reads it with node::Buffer::Data, which takes every ArrayBufferView. */
    value: Uint8Array,
    key: string | Buffer | null,
    timestamp: number | null,
    opaque: unknown,
    headers?: Record<string, string | Buffer>[],
  ): unknown;
  /**
   * Hands records [from, batch.count) to librdkafka in order, record i with the opaque
   * sequenceBase + its sequence, up to the first it refuses: what produce() would have done
   * record by record, in one call.
   */
  produceBatch(batch: ProduceBatch, from: number, sequenceBase: number): BatchOutcome<NativeError>;
  setPollInBackground(on: boolean): this;
  getMetadata(
    options: { topic?: string; timeout?: number; allTopics?: boolean },
    cb: (err: NativeError | null, metadata: Metadata) => void,
  ): void;
  flush(timeoutMs: number, cb: (err: NativeError | null) => void): this;
  on(event: 'event.error', listener: (err: NativeError) => void): this;
  on(event: 'delivery-report', listener: (err: NativeError | null, report: DeliveryReport) => void): this;
  /** librdkafka's warnings and errors as log lines (the addon's producer; the binding's only with event_cb). */
  on(event: 'event.log', listener: (log: NativeLog) => void): this;
}

/** A librdkafka log line: severity is syslog's (3 error, 4 warning). */
export interface NativeLog {
  severity: number;
  message: string;
}

export interface NativeConsumer extends NativeClient {
  subscribe(topics: string[]): this;
  consume(count: number, cb: (err: NativeError | null, messages: NativeMessage[]) => void): void;
  setDefaultConsumeTimeout(ms: number): void;
  setDefaultIsTimeoutOnlyForFirstMessage(on: boolean): void;
  assign(partitions: TopicPartition[]): this;
  unassign(): this;
  assignments(): TopicPartition[];
  /** Queues an asynchronous commit; the outcome comes as an 'offset.commit' event (offset_commit_cb: true). */
  commit(offsets: TopicPartitionOffset[]): this;
  on(event: 'event.error', listener: (err: NativeError) => void): this;
  on(
    event: 'offset.commit',
    listener: (err: NativeError | null | undefined, offsets: (TopicPartitionOffset & { error?: NativeError })[]) => void,
  ): this;
  /** librdkafka's warnings and errors as log lines (the addon's consumer). */
  on(event: 'event.log', listener: (log: NativeLog) => void): this;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  seek(to: TopicPartitionOffset, timeoutMs: number, cb: (err: NativeError | null) => void): this;
}

export interface NativeAdmin {
  createTopic(
    topic: { topic: string; num_partitions: number; replication_factor: number },
    timeoutMs: number,
    cb: (err: NativeError | null) => void,
  ): void;
  disconnect(): void;
}

export interface NativeModule {
  Producer: new (config: Config, topicConfig?: Config) => NativeProducer;
  KafkaConsumer: new (config: Config, topicConfig?: Config) => NativeConsumer;
  AdminClient: { createFrom(client: NativeProducer): NativeAdmin };
  librdkafkaVersion: string;
}

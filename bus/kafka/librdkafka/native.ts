import { createRequire } from 'node:module';
import { LIBRDKAFKA_NATIVE_LAYER } from '../client.js';

/**
 * The part of @confluentinc/kafka-javascript's native API (its node-rdkafka layer, not its
 * KafkaJS-compatible one) that the bus uses, typed here: the package is an optional
 * dependency, so Sluice must build and type-check where it did not install.
 */

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
  setPollInBackground(on: boolean): this;
  getMetadata(
    options: { topic?: string; timeout?: number; allTopics?: boolean },
    cb: (err: NativeError | null, metadata: Metadata) => void,
  ): void;
  /** Client.prototype.disconnect, which Producer.disconnect overrides with a flush first (releaseFailedConnect). */
  _disconnect(cb: (err: NativeError | null) => void): this;
  flush(timeoutMs: number, cb: (err: NativeError | null) => void): this;
  on(event: 'event.error', listener: (err: NativeError) => void): this;
  on(event: 'delivery-report', listener: (err: NativeError | null, report: DeliveryReport) => void): this;
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

/** librdkafka's error codes the bus acts on (rdkafka.h). */
export const ERR = {
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  ALL_BROKERS_DOWN: -187,
  TRANSPORT: -195,
  TIMED_OUT: -185,
  UNKNOWN_TOPIC: -188,
  UNKNOWN_TOPIC_OR_PART: 3,
  UNKNOWN_PARTITION: -190,
  TOPIC_ALREADY_EXISTS: 36,
} as const;

/** A broker unreachable (one, or all): what the "kafka down" / "kafka back" lines report. */
export function isOutage(err: NativeError): boolean {
  return err.code === ERR.ALL_BROKERS_DOWN || err.code === ERR.TRANSPORT;
}

let loaded: NativeModule | undefined;

export function loadNative(): NativeModule {
  loaded ??= createRequire(import.meta.url)(LIBRDKAFKA_NATIVE_LAYER) as NativeModule;
  return loaded;
}

/**
 * After a failed connect. The binding disconnected the native client but left its callbacks
 * registered, and they keep the client (its config, TLS certificates included) from ever
 * being collected: a producer retried with a new client while the brokers are down leaked
 * one per attempt. The base disconnect unregisters them, a no-op natively by now;
 * Producer.disconnect would flush first, and throw "Producer not connected".
 */
export function releaseFailedConnect(producer: NativeProducer): void {
  try {
    producer._disconnect(() => undefined);
  } catch {
    // Already released.
  }
}

/** "Local: Broker transport failure (code -195)" rather than librdkafka's bare message. */
export function describeNativeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Partial<NativeError>).code;
    return code === undefined ? err.message : `${err.message} (code ${code})`;
  }
  return String(err);
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { addonPath } from './path.js';
import type { Config, Metadata, NativeError, TopicPartition, TopicPartitionOffset } from '../native-api.js';

/** What producer.c and consumer.c export. */
export interface Addon {
  create(keys: string[], values: string[], wake: () => void): AddonHandle;
  topic(handle: AddonHandle, name: string): number;
  produce(
    handle: AddonHandle,
    topic: number,
    partition: number,
    value: Uint8Array,
    key: Uint8Array | null,
    timestamp: number,
    headers: Uint8Array[] | null,
    sequence: number,
  ): number;
  /** The index of a copy of these headers ((name, value) pairs flattened), for produceBatch. */
  headerSet(handle: AddonHandle, headers: Uint8Array[]): number;
  /** Frees every header set: their indexes are no longer valid. */
  clearHeaderSets(handle: AddonHandle): void;
  /** Records [from, count) of a batch (produce-batch.ts); result: [first not handed over, its error code]. */
  produceBatch(
    handle: AddonHandle,
    data: Uint8Array,
    layout: Int32Array,
    from: number,
    count: number,
    sequenceBase: number,
    result: Int32Array,
  ): void;
  take(handle: AddonHandle): [Float64Array, { code: number; fatal: 1 | 0 | -1; message: string }[]];
  metadata(handle: AddonHandle, topic: string | null, allTopics: boolean, timeoutMs: number): Promise<Metadata>;
  createTopic(handle: AddonHandle, name: string, partitions: number, replicationFactor: number, timeoutMs: number): Promise<void>;
  flush(handle: AddonHandle, timeoutMs: number): Promise<number>;
  close(handle: AddonHandle): Promise<void>;
  errorName(code: number): string;

  consumerCreate(keys: string[], values: string[], wake: () => void): ConsumerHandle;
  consumerConnect(handle: ConsumerHandle, timeoutMs: number): Promise<void>;
  subscribe(handle: ConsumerHandle, topics: string[]): number;
  /** A round: values and keys in one buffer, RECORD_NUMBERS numbers per record, the topic names they index. */
  consume(handle: ConsumerHandle, count: number, timeoutMs: number, onlyFirst: boolean): Promise<[Buffer, Float64Array, string[]]>;
  assign(handle: ConsumerHandle, partitions: TopicPartition[] | null): number;
  assignment(handle: ConsumerHandle): TopicPartition[];
  pause(handle: ConsumerHandle, partitions: TopicPartition[]): number;
  resume(handle: ConsumerHandle, partitions: TopicPartition[]): number;
  commit(handle: ConsumerHandle, offsets: TopicPartitionOffset[]): number;
  seek(handle: ConsumerHandle, to: TopicPartitionOffset, timeoutMs: number): Promise<void>;
  takeEvents(handle: ConsumerHandle): ConsumerEvent[];
  consumerClose(handle: ConsumerHandle): Promise<void>;
}

/** consumer.c's event kinds. */
export const EVENT = { ERROR: 0, FATAL: 1, LOG: 2, REBALANCE: 3, COMMIT: 4 } as const;

export interface ConsumerEvent {
  kind: (typeof EVENT)[keyof typeof EVENT];
  code: number;
  message?: string;
  partitions?: (TopicPartitionOffset & { error?: NativeError })[];
}

/** Numbers per record of a consumed round: topic index, partition, offset, timestamp, value start, value length, key start, key length (-1: none). */
export const RECORD_NUMBERS = 8;

declare const handleBrand: unique symbol;
export type AddonHandle = { readonly [handleBrand]: true };
declare const consumerBrand: unique symbol;
export type ConsumerHandle = { readonly [consumerBrand]: true };

let loaded: Addon | undefined;

/** The addon, loaded after the binding (`loadBinding`), whose librdkafka it shares. */
export function loadAddon(loadBinding: () => unknown): Addon {
  if (loaded) return loaded;
  const path = addonPath();
  if (!path || !existsSync(path)) throw new Error(`the librdkafka addon is not built (${path ?? 'dist/native'}): npm run build`);
  loadBinding();
  loaded = createRequire(import.meta.url)(path) as Addon;
  return loaded;
}

/** Config keys of the binding alone: librdkafka does not know them. */
const BINDING_ONLY = new Set(['dr_cb', 'dr_msg_cb', 'event_cb', 'rebalance_cb', 'offset_commit_cb']);

/** librdkafka's config as the addon takes it: parallel arrays of keys and values. */
export function configArrays(config: Config): [string[], string[]] {
  const keys: string[] = [];
  const values: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (BINDING_ONLY.has(key) || typeof value === 'function') continue;
    keys.push(key);
    values.push(String(value));
  }
  return [keys, values];
}

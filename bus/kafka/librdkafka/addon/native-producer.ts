import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { addonPath } from './path.js';
import type { Config, DeliveryReport, Metadata, NativeAdmin, NativeError, NativeLog, NativeProducer } from '../native-api.js';

/** What producer.c exports. */
interface Addon {
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
  take(handle: AddonHandle): [Float64Array, { code: number; fatal: 1 | 0 | -1; message: string }[]];
  metadata(handle: AddonHandle, topic: string | null, allTopics: boolean, timeoutMs: number): Promise<Metadata>;
  createTopic(handle: AddonHandle, name: string, partitions: number, replicationFactor: number, timeoutMs: number): Promise<void>;
  flush(handle: AddonHandle, timeoutMs: number): Promise<number>;
  close(handle: AddonHandle): Promise<void>;
  errorName(code: number): string;
}

declare const handleBrand: unique symbol;
type AddonHandle = { readonly [handleBrand]: true };

let loaded: Addon | undefined;

/** The addon, loaded after the binding (`loadBinding`), whose librdkafka it shares. */
export function loadAddon(loadBinding: () => unknown): Addon {
  if (loaded) return loaded;
  const path = addonPath();
  if (!path || !existsSync(path)) throw new Error(`the librdkafka producer addon is not built (${path ?? 'dist/native'}): npm run build`);
  loadBinding();
  loaded = createRequire(import.meta.url)(path) as Addon;
  return loaded;
}

/** Config keys of the binding alone: librdkafka does not know them. */
const BINDING_ONLY = new Set(['dr_cb', 'dr_msg_cb', 'event_cb', 'rebalance_cb', 'offset_commit_cb']);

type ReportListener = (err: NativeError | null, report: DeliveryReport) => void;
type ErrorListener = (err: NativeError) => void;
type LogListener = (log: NativeLog) => void;

/**
 * The binding's producer interface (NativeProducer) on Sluice's addon, so the bus's producer
 * and the dead-letter writer run on either. What differs: records cross as bytes and numbers
 * (the opaque must be a number, headers Buffers), delivery reports are dispatched from one
 * typed array per batch, and the report object is reused: a listener must not keep it.
 */
export class AddonProducer implements NativeProducer {
  private readonly addon: Addon;
  private readonly handle: AddonHandle;
  private readonly topics = new Map<string, number>();
  /**
   * Each headers array, flattened once into (name, value) bytes: the bus's producer reuses one
   * array per service/module and never changes it (a changed array would send its old headers).
   */
  private readonly flatHeaders = new WeakMap<object, Uint8Array[]>();
  private readonly report: DeliveryReport = { topic: '', partition: -1, offset: -1, opaque: undefined };
  private onReport: ReportListener | undefined;
  private onError: ErrorListener | undefined;
  private onLog: LogListener | undefined;
  private closing: Promise<void> | undefined;
  /** Requests running on the threadpool: the client is destroyed only once they ended. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(addon: Addon, config: Config) {
    this.addon = addon;
    const keys: string[] = [];
    const values: string[] = [];
    for (const [key, value] of Object.entries(config)) {
      if (BINDING_ONLY.has(key) || typeof value === 'function') continue;
      keys.push(key);
      values.push(String(value));
    }
    this.handle = addon.create(keys, values, () => this.dispatch());
  }

  on(event: 'delivery-report', listener: ReportListener): this;
  on(event: 'event.error', listener: ErrorListener): this;
  on(event: 'event.log', listener: LogListener): this;
  on(event: string, listener: ReportListener | ErrorListener | LogListener): this {
    if (event === 'delivery-report') this.onReport = listener as ReportListener;
    else if (event === 'event.error') this.onError = listener as ErrorListener;
    else if (event === 'event.log') this.onLog = listener as LogListener;
    return this;
  }

  /** As the binding's: done once the brokers answered a metadata request within `timeout`. */
  connect(options: { timeout?: number }, cb: (err: NativeError | null) => void): this {
    this.run(() => this.addon.metadata(this.handle, null, false, options.timeout ?? 30_000)).then(
      () => cb(null),
      (err: NativeError) => cb(err),
    );
    return this;
  }

  /** Reports are always served by the addon's poller thread. */
  setPollInBackground(): this {
    return this;
  }

  produce(
    topic: string,
    partition: number | null,
    value: Uint8Array,
    key: string | Buffer | null,
    timestamp: number | null,
    opaque: unknown,
    headers?: Record<string, string | Buffer>[],
  ): unknown {
    if (typeof opaque !== 'number') throw new TypeError('the librdkafka addon takes a sequence number as the opaque');
    if (this.closing !== undefined) throw Object.assign(new Error('librdkafka producer closed'), { code: STATE });
    let index = this.topics.get(topic);
    if (index === undefined) {
      index = this.addon.topic(this.handle, topic);
      this.topics.set(topic, index);
    }
    const code = this.addon.produce(
      this.handle,
      index,
      partition ?? -1,
      value,
      typeof key === 'string' ? Buffer.from(key) : key,
      timestamp ?? 0,
      headers ? this.flatten(headers) : null,
      opaque,
    );
    if (code !== 0) throw this.error(code);
    return undefined;
  }

  getMetadata(
    options: { topic?: string; timeout?: number; allTopics?: boolean },
    cb: (err: NativeError | null, metadata: Metadata) => void,
  ): void {
    const allTopics = options.allTopics ?? options.topic === undefined;
    this.run(() => this.addon.metadata(this.handle, options.topic ?? null, allTopics, options.timeout ?? 30_000)).then(
      (metadata) => cb(null, metadata),
      (err: NativeError) => cb(err, { topics: [] }),
    );
  }

  /** The admin the bus creates topics with: this producer's own connection. */
  admin(): NativeAdmin {
    return {
      createTopic: (topic, timeoutMs, cb) =>
        void this.run(() =>
          this.addon.createTopic(this.handle, topic.topic, topic.num_partitions, topic.replication_factor, timeoutMs),
        ).then(
          () => cb(null),
          (err: NativeError) => cb(err),
        ),
      disconnect: () => undefined,
    };
  }

  flush(timeoutMs: number, cb: (err: NativeError | null) => void): this {
    this.run(() => this.addon.flush(this.handle, timeoutMs)).then(
      (remaining) => cb(remaining === 0 ? null : this.error(TIMED_OUT)),
      (err: NativeError) => cb(err),
    );
    return this;
  }

  /** Destroys the client without waiting for what it holds (the bus's producer flushes first when it means to). */
  disconnect(cb: (err: NativeError | null) => void): this {
    this.closing ??= Promise.allSettled([...this.running])
      .then(() => this.addon.close(this.handle))
      .then(() => this.dispatch());
    this.closing.then(
      () => cb(null),
      (err: NativeError) => cb(err),
    );
    return this;
  }

  _disconnect(cb: (err: NativeError | null) => void): this {
    return this.disconnect(cb);
  }

  /** A request on the threadpool, tracked for disconnect; refused once the producer is closing. */
  private run<T>(request: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(Object.assign(new Error('librdkafka producer closed'), { code: STATE }));
    let started: Promise<T>;
    try {
      started = request();
    } catch (err) {
      return Promise.reject(err);
    }
    this.running.add(started);
    const done = () => void this.running.delete(started);
    started.then(done, done);
    return started;
  }

  private flatten(headers: Record<string, string | Buffer>[]): Uint8Array[] {
    let flat = this.flatHeaders.get(headers);
    if (!flat) {
      flat = [];
      for (const header of headers)
        for (const [name, value] of Object.entries(header))
          flat.push(Buffer.from(name), typeof value === 'string' ? Buffer.from(value) : value);
      this.flatHeaders.set(headers, flat);
    }
    return flat;
  }

  private dispatch(): void {
    const [reports, errors] = this.addon.take(this.handle);
    const report = this.report;
    for (let i = 0; i < reports.length; i += 2) {
      const code = reports[i + 1]!;
      report.opaque = reports[i]!;
      this.onReport?.(code === 0 ? null : this.error(code), report);
    }
    for (const e of errors) {
      if (e.fatal === -1) this.onLog?.({ severity: e.code, message: e.message });
      else this.onError?.(Object.assign(new Error(e.message), { code: e.code, isFatal: e.fatal === 1 }));
    }
  }

  private error(code: number): NativeError {
    // A record the fatal error failed: the producer is done for (the bus replaces it).
    return Object.assign(new Error(this.addon.errorName(code)), { code, isFatal: code === FATAL });
  }
}

/** RD_KAFKA_RESP_ERR__TIMED_OUT: a flush that ended with records still held. */
const TIMED_OUT = -185;

/** RD_KAFKA_RESP_ERR__STATE: what a request to a closed producer fails with. */
const STATE = -172;

/** RD_KAFKA_RESP_ERR__FATAL: what an idempotent producer fails its records with after a fatal error. */
const FATAL = -150;

import { type Addon, type AddonHandle, configArrays } from './load.js';
import { Requests } from './requests.js';
import type { Config, DeliveryReport, Metadata, NativeAdmin, NativeError, NativeLog, NativeProducer } from '../native-api.js';
import { BATCH_NUMBERS, type BatchOutcome, type HeaderList, type ProduceBatch, SLOT } from '../produce-batch.js';

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
  /**
   * Each headers array's copy in the addon (headerSet), for produceBatch; the same contract as
   * flatHeaders. A copy is known by its array and the generation it was made in: the bus's
   * producer makes its arrays anew when its cache of them starts over, so the addon's copies
   * are freed when they reach HEADER_SETS_MAX, rather than pile up.
   */
  private headerSets = new WeakMap<object, number>();
  private headerSetCount = 0;
  /** produceBatch's answer: the first record not handed over, and its error code. */
  private readonly batchResult = new Int32Array(2);
  private readonly report: DeliveryReport = { topic: '', partition: -1, offset: -1, opaque: undefined };
  private onReport: ReportListener | undefined;
  private onError: ErrorListener | undefined;
  private onLog: LogListener | undefined;
  private readonly requests = new Requests('librdkafka producer closed', STATE);

  constructor(addon: Addon, config: Config) {
    this.addon = addon;
    const [keys, values] = configArrays(config);
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
    this.requests
      .run(() => this.addon.metadata(this.handle, null, false, options.timeout ?? 30_000))
      .then(
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
    if (this.requests.closed) throw this.requests.closedError();
    const code = this.addon.produce(
      this.handle,
      this.topicIndex(topic),
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

  produceBatch(batch: ProduceBatch, from: number, sequenceBase: number): BatchOutcome<NativeError> {
    if (this.requests.closed) throw this.requests.closedError();
    // Before the indexes are written: each record of the batch may need a set of its own.
    if (this.headerSetCount + batch.count - from > HEADER_SETS_MAX) {
      this.addon.clearHeaderSets(this.handle);
      this.headerSets = new WeakMap();
      this.headerSetCount = 0;
    }
    const layout = batch.layout;
    // Consecutive records mostly share a topic and headers: looked up when they change.
    let topic: string | undefined;
    let topicIndex = 0;
    let headers: HeaderList | undefined;
    let headerSet = -1;
    for (let i = from; i < batch.count; i++) {
      if (batch.topics[i] !== topic) {
        topic = batch.topics[i]!;
        topicIndex = this.topicIndex(topic);
      }
      if (batch.headers[i] !== headers) {
        headers = batch.headers[i];
        headerSet = headers ? this.headerSetOf(headers) : -1;
      }
      layout[i * BATCH_NUMBERS + SLOT.TOPIC] = topicIndex;
      layout[i * BATCH_NUMBERS + SLOT.HEADERS] = headerSet;
    }
    const result = this.batchResult;
    this.addon.produceBatch(this.handle, batch.data, layout, from, batch.count, sequenceBase, result);
    return { next: result[0]!, error: result[1] === 0 ? null : this.error(result[1]!) };
  }

  getMetadata(
    options: { topic?: string; timeout?: number; allTopics?: boolean },
    cb: (err: NativeError | null, metadata: Metadata) => void,
  ): void {
    const allTopics = options.allTopics ?? options.topic === undefined;
    this.requests
      .run(() => this.addon.metadata(this.handle, options.topic ?? null, allTopics, options.timeout ?? 30_000))
      .then(
        (metadata) => cb(null, metadata),
        (err: NativeError) => cb(err, { topics: [] }),
      );
  }

  /** The admin the bus creates topics with: this producer's own connection. */
  admin(): NativeAdmin {
    return {
      createTopic: (topic, timeoutMs, cb) =>
        void this.requests
          .run(() => this.addon.createTopic(this.handle, topic.topic, topic.num_partitions, topic.replication_factor, timeoutMs))
          .then(
            () => cb(null),
            (err: NativeError) => cb(err),
          ),
      disconnect: () => undefined,
    };
  }

  flush(timeoutMs: number, cb: (err: NativeError | null) => void): this {
    this.requests
      .run(() => this.addon.flush(this.handle, timeoutMs))
      .then(
        (remaining) => cb(remaining === 0 ? null : this.error(TIMED_OUT)),
        (err: NativeError) => cb(err),
      );
    return this;
  }

  /** Destroys the client without waiting for what it holds (the bus's producer flushes first when it means to). */
  disconnect(cb: (err: NativeError | null) => void): this {
    this.requests
      .close(() => this.addon.close(this.handle))
      .then(() => this.dispatch())
      .then(
        () => cb(null),
        (err: NativeError) => cb(err),
      );
    return this;
  }

  private topicIndex(topic: string): number {
    let index = this.topics.get(topic);
    if (index === undefined) {
      index = this.addon.topic(this.handle, topic);
      this.topics.set(topic, index);
    }
    return index;
  }

  private headerSetOf(headers: HeaderList): number {
    let set = this.headerSets.get(headers);
    if (set === undefined) {
      set = this.addon.headerSet(this.handle, this.flatten(headers));
      this.headerSets.set(headers, set);
      this.headerSetCount++;
    }
    return set;
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

/** Header sets the addon keeps at most (a few hundred bytes each). */
export const HEADER_SETS_MAX = 4096;

/** RD_KAFKA_RESP_ERR__TIMED_OUT: a flush that ended with records still held. */
const TIMED_OUT = -185;

/** RD_KAFKA_RESP_ERR__STATE: what a request to a closed producer fails with. */
const STATE = -172;

/** RD_KAFKA_RESP_ERR__FATAL: what an idempotent producer fails its records with after a fatal error. */
const FATAL = -150;

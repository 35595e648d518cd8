import type { DeliveryReport, Metadata, NativeError } from './native.js';
import { type BatchOutcome, type HeaderList, type ProduceBatch, SLOT, BATCH_NUMBERS } from './produce-batch.js';

/**
 * The parts of the binding's native producer every fake-binding test needs alike (connect,
 * disconnect, flush, polling, metadata of one partition per topic), for tests that decide
 * themselves what produce() does and when each delivery report comes: the order of reports,
 * refusals and timeouts is theirs to set, which a real broker does not give.
 */
export abstract class FakeNativeProducer {
  /** Where delivery reports go: the client's 'delivery-report' listener. */
  protected reportTo: ((err: NativeError | null, report: DeliveryReport) => void) | undefined;

  on(event: string, listener: (err: NativeError | null, report: DeliveryReport) => void): this {
    if (event === 'delivery-report') this.reportTo = listener;
    return this;
  }
  connect(_options: unknown, cb: (err: NativeError | null) => void): this {
    setImmediate(() => cb(null));
    return this;
  }
  disconnect(cb: (err: NativeError | null) => void): this {
    setImmediate(() => cb(null));
    return this;
  }
  flush(_timeout: number, cb: (err: NativeError | null) => void): this {
    setImmediate(() => cb(null));
    return this;
  }
  abstract produce(
    topic: string,
    partition: number | null,
    value: Uint8Array,
    key: string | Buffer | null,
    timestamp: number | null,
    opaque: number,
    headers?: HeaderList,
  ): unknown;

  /** Record by record through the test's produce(), as the addon hands them over in one call. */
  produceBatch(batch: ProduceBatch, from: number, sequenceBase: number): BatchOutcome<NativeError> {
    for (let i = from; i < batch.count; i++) {
      const partition = batch.layout[i * BATCH_NUMBERS + SLOT.PARTITION]!;
      const sequence = sequenceBase + batch.layout[i * BATCH_NUMBERS + SLOT.SEQUENCE]!;
      try {
        this.produce(batch.topics[i]!, partition < 0 ? null : partition, batch.value(i), batch.key(i), null, sequence, batch.headers[i]);
      } catch (err) {
        return { next: i, error: err as NativeError };
      }
    }
    return { next: batch.count, error: null };
  }
  setPollInBackground(): this {
    return this;
  }
  /** One partition per topic asked for; a listing of every topic finds none. */
  getMetadata(options: { topic?: string }, cb: (err: NativeError | null, metadata: Metadata) => void): void {
    const topics = options.topic === undefined ? [] : [{ name: options.topic, partitions: [{ id: 0 }] }];
    setImmediate(() => cb(null, { topics }));
  }
}

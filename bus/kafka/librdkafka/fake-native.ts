import type { DeliveryReport, Metadata, NativeError } from './native.js';

/**
 * The parts of the binding's native producer every fake-binding test needs alike (connect,
 * disconnect, flush, polling, metadata of one partition per topic), for tests that decide
 * themselves what produce() does and when each delivery report comes: the order of reports,
 * refusals and timeouts is theirs to set, which a real broker does not give.
 */
export class FakeNativeProducer {
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
  setPollInBackground(): this {
    return this;
  }
  /** One partition per topic asked for; a listing of every topic finds none. */
  getMetadata(options: { topic?: string }, cb: (err: NativeError | null, metadata: Metadata) => void): void {
    const topics = options.topic === undefined ? [] : [{ name: options.topic, partitions: [{ id: 0 }] }];
    setImmediate(() => cb(null, { topics }));
  }
}

import type { AckableBatch, BusConsumer } from '../core/pipeline.js';
import type { ComponentStatus } from '../api/readiness.js';
import { type ComponentMeter, markRead } from './instrument.js';

/**
 * The collector's bus side as the runtime sees it: every batch the bus delivers passes
 * here, so the runtime can count it, stamp its receive time, and know which batches were
 * routed under which configuration. A reload starts a new generation; `settled(g)`
 * resolves once every batch delivered before generation `g` is written and acknowledged,
 * which is when sinks removed by that reload may be closed.
 */
export class MeteredConsumer implements BusConsumer {
  private generation = 0;
  private readonly inFlight = new Map<number, number>();
  private waiters: { before: number; resolve: () => void }[] = [];

  constructor(
    private readonly inner: BusConsumer,
    private readonly options: {
      /** Counts the batches as the bus component's (Kafka); the embedded bus is counted on its producer side. */
      meter?: ComponentMeter;
      status?: ComponentStatus;
      /** Stamp batches with their receive time for the delivery latency (collector), unless the source already did (`run`). */
      stampReceive: boolean;
    },
  ) {}

  start(deliver: (batch: AckableBatch) => Promise<void>): Promise<void> {
    return this.inner.start((batch) => this.deliver(batch, deliver));
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  /** Batches delivered from now on belong to a new generation; returns it. */
  nextGeneration(): number {
    return ++this.generation;
  }

  /** Resolves once no batch delivered before generation `before` is still in flight. */
  settled(before: number): Promise<void> {
    if (!this.olderInFlight(before)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ before, resolve }));
  }

  private olderInFlight(before: number): boolean {
    for (const [g, n] of this.inFlight) if (g < before && n > 0) return true;
    return false;
  }

  private async deliver(batch: AckableBatch, deliver: (batch: AckableBatch) => Promise<void>): Promise<void> {
    const g = this.generation;
    this.inFlight.set(g, (this.inFlight.get(g) ?? 0) + 1);
    const { meter, status } = this.options;
    if (this.options.stampReceive) markRead(batch.events, 'bus_receive');
    try {
      await deliver({
        events: batch.events,
        ...(batch.lane === undefined ? {} : { lane: batch.lane }),
        ack: async () => {
          await batch.ack();
          meter?.received(batch.events);
          meter?.sent(batch.events);
          status?.ok();
        },
      });
    } finally {
      const left = (this.inFlight.get(g) ?? 1) - 1;
      if (left > 0) this.inFlight.set(g, left);
      else this.inFlight.delete(g);
      if (this.waiters.length > 0) {
        const ready = this.waiters.filter((w) => !this.olderInFlight(w.before));
        this.waiters = this.waiters.filter((w) => !ready.includes(w));
        for (const w of ready) w.resolve();
      }
    }
  }
}

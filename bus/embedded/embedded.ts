import type { LogEvent } from '../../core/event.js';
import type { AckableBatch, Bus, BusConsumer, BusProducer } from '../../core/pipeline.js';

/** Events per send: the sinks get batches this large from the channel. */
const BATCH_EVENTS = 2000;

/**
 * The in-process bus of `sluice run`: the agent half's send() hands the batch straight to
 * the collector half and resolves only when the collector acked it (every sink wrote it
 * durably). So the channel transaction commits after the sinks have the data — the same
 * chain as with Kafka, with no hop in between.
 */
export class EmbeddedBus implements Bus {
  private deliver: ((batch: AckableBatch) => Promise<void>) | undefined;
  private readonly waiting: (() => void)[] = [];

  producer(): BusProducer {
    return {
      // No linger: there is no request to fill, a send is a direct hand-over.
      batch: { maxEvents: BATCH_EVENTS, timeoutMs: 0 },
      open: async () => {},
      send: (events) => this.send(events),
      close: async () => {},
    };
  }

  consumer(): BusConsumer {
    return {
      start: async (deliver) => {
        this.deliver = deliver;
        for (const wake of this.waiting.splice(0)) wake();
      },
      stop: async () => {
        this.deliver = undefined;
      },
    };
  }

  private async send(events: readonly LogEvent[]): Promise<void> {
    // Before the collector half has started, or after it stopped, a send waits: the
    // events stay in the agent's channel, which is where they are safe.
    while (!this.deliver) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const deliver = this.deliver;
    await new Promise<void>((resolve, reject) => {
      deliver({ events, ack: async () => resolve() }).catch(reject);
    });
  }
}

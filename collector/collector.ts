import { Backoff } from '../core/backoff.js';
import type { Logger } from '../core/log.js';
import type { AckableBatch, BusConsumer, Sink } from '../core/pipeline.js';

export interface NamedSink {
  name: string;
  sink: Sink;
}

/**
 * The collector: receives batches from the bus and writes each to its sinks; acks a
 * batch (letting the bus commit its offsets) only once every sink has written it
 * durably. A failing sink is retried with capped backoff for as long as it takes, so a
 * dead sink holds back the acks and the bus stops consuming: backpressure into Kafka,
 * nothing dropped. Until the router exists every sink receives every event.
 */
export class Collector {
  private readonly abort = new AbortController();
  private readonly sinkDown = new Set<string>();
  written = 0;

  constructor(
    private readonly consumer: BusConsumer,
    private readonly sinks: NamedSink[],
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    for (const { sink } of this.sinks) await sink.open();
    await this.consumer.start((batch) => this.deliver(batch));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.consumer.stop();
    for (const { name, sink } of this.sinks) {
      try {
        await sink.close();
      } catch (err) {
        this.logger.error({ sink: name, err: (err as Error).message }, 'sink failed to close cleanly');
      }
    }
  }

  private async deliver(batch: AckableBatch): Promise<void> {
    await Promise.all(this.sinks.map((s) => this.writeUntilDone(s, batch)));
    await batch.ack();
    this.written += batch.events.length;
  }

  private async writeUntilDone({ name, sink }: NamedSink, batch: AckableBatch): Promise<void> {
    const backoff = new Backoff(100, 30_000);
    for (;;) {
      if (this.abort.signal.aborted) throw new Error(`collector stopping: batch not written to sink "${name}", it stays uncommitted on the bus`);
      try {
        await sink.write(batch.events);
        if (this.sinkDown.delete(name)) this.logger.info({ sink: name }, 'sink is writing again');
        return;
      } catch (err) {
        if (!this.sinkDown.has(name)) {
          this.sinkDown.add(name);
          this.logger.error({ sink: name, err: (err as Error).message }, 'sink write failed; retrying, the batch is not acknowledged until it is written');
        }
        await backoff.sleep(this.abort.signal);
      }
    }
  }
}

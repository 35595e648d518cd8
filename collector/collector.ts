import { Backoff } from '../core/backoff.js';
import type { LogEvent } from '../core/event.js';
import type { Logger } from '../core/log.js';
import type { AckableBatch, BusConsumer, Sink } from '../core/pipeline.js';
import type { DeadLetter } from './dead-letter/dead-letter.js';
import { Router } from './router/router.js';

export interface NamedSink {
  name: string;
  sink: Sink;
}

export interface CollectorOptions {
  /** Which events go to which sinks; default: every sink gets every event. */
  router?: Router;
  /** Where events no route accepts go; required when the router can leave events unrouted. */
  deadLetter?: DeadLetter;
  /**
   * On stop, how long batches in flight may take to finish before the sinks are closed
   * under them (a sink blocked on a dead Elasticsearch would otherwise hold the stop
   * forever); those batches stay uncommitted on the bus.
   */
  stopTimeoutMs?: number;
  /** Applied to every batch from the bus before routing (the collector's transforms); returns the events to keep. */
  transform?: (events: LogEvent[]) => LogEvent[];
}

/**
 * The collector: receives batches from the bus, routes each event to its sinks, and acks a
 * batch (letting the bus commit its offsets) only once every sink that received part of it
 * has written that part durably, and the events no route took are in the dead-letter. A
 * failing sink is retried with capped backoff for as long as it takes, so a dead sink holds
 * back the acks and the bus stops consuming: backpressure into Kafka, nothing dropped.
 */
export class Collector {
  private readonly abort = new AbortController();
  private readonly sinkDown = new Set<string>();
  private router: Router;
  private readonly deadLetter: DeadLetter | undefined;
  private readonly stopTimeoutMs: number;
  private byName: Map<string, Sink>;
  private readonly transform: ((events: LogEvent[]) => LogEvent[]) | undefined;
  written = 0;
  unrouted = 0;

  constructor(
    private readonly consumer: BusConsumer,
    private sinks: NamedSink[],
    private readonly logger: Logger,
    options: CollectorOptions = {},
  ) {
    this.router =
      options.router ??
      new Router(
        undefined,
        sinks.map((s) => s.name),
      );
    this.deadLetter = options.deadLetter;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.byName = new Map(sinks.map((s) => [s.name, s.sink]));
    this.transform = options.transform;
  }

  async start(): Promise<void> {
    for (const { sink } of this.sinks) await sink.open();
    await this.deadLetter?.open();
    await this.consumer.start((batch) => this.deliver(batch));
  }

  /**
   * Hot reload: the sinks and routes for batches delivered from now on. The runtime opens
   * new sinks before and closes removed ones after (once the batches routed to them are
   * written); a batch already routed looks its sinks up by name on every attempt, so it
   * finds them (and a replaced sink's new implementation) until then.
   */
  reconfigure(sinks: NamedSink[], router: Router): void {
    this.sinks = sinks;
    this.byName = new Map(sinks.map((s) => [s.name, s.sink]));
    this.router = router;
    for (const name of this.sinkDown) if (!this.byName.has(name)) this.sinkDown.delete(name);
  }

  /** Stops retrying failed writes: a batch that is not written stays uncommitted on the bus. */
  interrupt(): void {
    this.abort.abort();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    const consumerStopped = this.consumer.stop();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      consumerStopped.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.logger.warn(
        { timeout_ms: this.stopTimeoutMs },
        'batches still being written at the stop timeout: closing the sinks under them; they stay uncommitted on the bus',
      );
    await this.closeSinks();
    await consumerStopped;
    await this.deadLetter?.close();
  }

  private async closeSinks(): Promise<void> {
    for (const { name, sink } of this.sinks) {
      try {
        await sink.close();
      } catch (err) {
        this.logger.error({ sink: name, err: (err as Error).message }, 'sink failed to close cleanly');
      }
    }
  }

  private async deliver(batch: AckableBatch): Promise<void> {
    const events = this.transform ? this.transform([...batch.events]) : batch.events;
    const { bySink, unrouted } = this.router.route(events);
    const writes = [...bySink].map(([name, events]) =>
      this.writeUntilDone(name, (e) => this.byName.get(name)!.write(e, batch.lane), events),
    );
    if (unrouted.length > 0) {
      const dl = this.deadLetter;
      if (!dl)
        throw new Error(`${unrouted.length} events matched no route and there is no dead-letter to keep them; the batch stays uncommitted`);
      writes.push(
        this.writeUntilDone(
          'dead-letter',
          (events) =>
            dl.write(
              events.map((event) => ({
                reason: `no route accepted the event (service "${event.service}", module "${event.module}")`,
                event,
              })),
            ),
          unrouted,
        ),
      );
    }
    await Promise.all(writes);
    await batch.ack();
    this.written += events.length - unrouted.length;
    this.unrouted += unrouted.length;
  }

  private async writeUntilDone(
    name: string,
    write: (events: readonly LogEvent[]) => Promise<void>,
    events: readonly LogEvent[],
  ): Promise<void> {
    const backoff = new Backoff(100, 30_000);
    for (;;) {
      if (this.abort.signal.aborted) throw new Error(`collector stopping: batch not written to "${name}", it stays uncommitted on the bus`);
      try {
        await write(events);
        if (this.sinkDown.delete(name)) this.logger.info({ sink: name }, 'sink is writing again');
        return;
      } catch (err) {
        if (!this.sinkDown.has(name)) {
          this.sinkDown.add(name);
          this.logger.error(
            { sink: name, err: (err as Error).message },
            'sink write failed; retrying, the batch is not acknowledged until it is written',
          );
        }
        await backoff.sleep(this.abort.signal);
      }
    }
  }
}

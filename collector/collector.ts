import { Backoff } from '../core/backoff.js';
import type { LogEvent } from '../core/event.js';
import type { Logger } from '../core/log.js';
import type { AckableBatch, BusConsumer, SinkRefusal, Sink } from '../core/pipeline.js';
import type { DeadLetter } from '../core/dead-letter.js';
import { Router } from './router/router.js';

export interface NamedSink {
  name: string;
  sink: Sink;
  /**
   * Removed by a reload, kept for the batches routed to it before: their writes in flight
   * finish, but a failed one is not tried again (see Collector.reconfigure).
   */
  retiring?: boolean;
}

export interface CollectorOptions {
  /** Which events go to which sinks; default: every sink gets every event. */
  router?: Router;
  /**
   * Where events no route accepts go, and (unless `refused` is given) the events a sink
   * refused for good; required as soon as either happens (else the batch stays uncommitted).
   */
  deadLetter?: DeadLetter;
  /**
   * Where events a sink refused for good go, when they are counted apart from unrouted ones:
   * a view of the same dead-letter, which the collector neither opens nor closes.
   */
  refused?: DeadLetter;
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
 * has written that part durably, and the events no route took are in the dead-letter.
 *
 * The collector is the one retry owner: a sink reports per event what it could not store
 * (core/pipeline.ts WriteResult) and never loops itself. Events a sink refused for good go
 * to the dead-letter with the sink's reason while the rest of the batch is written; events
 * to retry, or the whole batch when the write rejects (destination down), are written again
 * with capped backoff for as long as it takes, so a dead sink holds back the acks and the
 * bus stops consuming: backpressure into Kafka, nothing dropped.
 */
export class Collector {
  private readonly abort = new AbortController();
  private readonly sinkDown = new Set<string>();
  private router: Router;
  private readonly deadLetter: DeadLetter | undefined;
  private readonly refusedDeadLetter: DeadLetter | undefined;
  private readonly stopTimeoutMs: number;
  private byName: Map<string, Sink>;
  /** Sinks a reload removed (no sink of the name in the new config). */
  private retired = new Set<string>();
  /** Wakes the retries waiting out their backoff: on a stop, and when a reload removed a sink. */
  private wake = new AbortController();
  private readonly transform: ((events: LogEvent[]) => LogEvent[]) | undefined;
  written = 0;
  unrouted = 0;
  refused = 0;

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
    this.refusedDeadLetter = options.refused ?? options.deadLetter;
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
    const current = new Set(sinks.filter((s) => !s.retiring).map((s) => s.name));
    const retired = new Set(sinks.filter((s) => s.retiring && !current.has(s.name)).map((s) => s.name));
    const newlyRetired = [...retired].some((name) => !this.retired.has(name));
    this.retired = retired;
    this.router = router;
    if (newlyRetired) {
      // Their batches give up now, not after a backoff of up to 30 s.
      this.wake.abort();
      this.wake = new AbortController();
    }
    for (const name of this.sinkDown) if (!this.byName.has(name)) this.sinkDown.delete(name);
  }

  /** Stops retrying failed writes: a batch that is not written stays uncommitted on the bus. */
  interrupt(): void {
    this.abort.abort();
    this.wake.abort();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake.abort();
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
    const writes: Promise<number>[] = [...bySink].map(([name, events]) => this.writeUntilDone(name, events, batch.lane));
    if (unrouted.length > 0) {
      const dl = this.deadLetter;
      if (!dl)
        throw new Error(`${unrouted.length} events matched no route and there is no dead-letter to keep them; the batch stays uncommitted`);
      writes.push(
        this.retryUntilDone(
          'dead-letter',
          async (events) => {
            await dl.write(
              events.map((event) => ({
                reason: `no route accepted the event (service "${event.service}", module "${event.module}")`,
                event,
              })),
            );
            return [];
          },
          unrouted,
        ).then(() => 0),
      );
    }
    // Every write settles before the batch is given up: one that failed must not leave the
    // others writing while the batch is read again.
    const outcomes = await Promise.allSettled(writes);
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    const refused = outcomes.map((o) => (o as PromiseFulfilledResult<number>).value);
    await batch.ack();
    const refusedTotal = refused.reduce((a, b) => a + b, 0);
    this.written += events.length - unrouted.length - refusedTotal;
    this.unrouted += unrouted.length;
    this.refused += refusedTotal;
  }

  /**
   * Writes `events` to the sink `name` until each is stored or refused, then puts the refused
   * ones in the dead-letter (the sink is not written again for them); resolves with how many
   * were refused.
   */
  private async writeUntilDone(name: string, events: readonly LogEvent[], lane: string | undefined): Promise<number> {
    const refused: SinkRefusal[] = [];
    // Looked up on every attempt: a reload may have replaced the sink meanwhile.
    await this.retryUntilDone(
      name,
      async (todo, again) => {
        // A sink the user removed while it was failing (most often: because it was): its
        // batch is read again and routed by the new routes, not held for a destination
        // nobody configures any more. The other sinks write it again by id.
        if (again && this.retired.has(name))
          throw new RemovedSink(`sink "${name}" was removed by a reload while its write was failing; the batch is read again`);
        const result = await this.byName.get(name)!.write(todo, lane);
        for (const r of result.refused) refused.push(r);
        return result.retry;
      },
      events,
    );
    if (refused.length === 0) return 0;
    const dl = this.refusedDeadLetter;
    if (!dl)
      throw new Error(
        `sink "${name}" refused ${refused.length} event(s) and there is no dead-letter to keep them; the batch stays uncommitted`,
      );
    const first = refused[0]!;
    this.logger.warn(
      { sink: name, refused: refused.length, reason: first.reason, event_id: first.event.id },
      'sink refused events; sending them to the dead-letter',
    );
    await this.retryUntilDone(
      'dead-letter',
      async (entries) => {
        await dl.write(entries.map((r) => ({ reason: `sinks.${name}: ${r.reason}`, event: r.event })));
        return [];
      },
      refused,
    );
    return refused.length;
  }

  /**
   * The one retry loop: `attempt` stores what it can of `items` and resolves with those to try
   * again; a rejection retries them all. Capped backoff, reset by an attempt that made progress.
   */
  private async retryUntilDone<T>(
    name: string,
    attempt: (items: readonly T[], again: boolean) => Promise<readonly T[]>,
    items: readonly T[],
  ): Promise<void> {
    const backoff = new Backoff(100, 30_000);
    let todo = items;
    let partial = false;
    let again = false;
    for (;;) {
      if (this.abort.signal.aborted) throw new Error(`collector stopping: batch not written to "${name}", it stays uncommitted on the bus`);
      try {
        const retry = await attempt(todo, again);
        if (retry.length === 0) {
          if (this.sinkDown.delete(name)) this.logger.info({ sink: name }, 'sink is writing again');
          return;
        }
        if (retry.length < todo.length) backoff.reset();
        if (!partial)
          this.logger.warn(
            { sink: name, retrying: retry.length, of: todo.length },
            'sink asked to retry some events; retrying after backoff',
          );
        partial = true;
        todo = retry;
      } catch (err) {
        if (err instanceof RemovedSink) {
          this.sinkDown.delete(name);
          this.logger.warn({ sink: name }, err.message);
          throw err;
        }
        if (!this.sinkDown.has(name)) {
          this.sinkDown.add(name);
          this.logger.error(
            { sink: name, err: (err as Error).message },
            'sink write failed; retrying, the batch is not acknowledged until it is written',
          );
        }
      }
      await backoff.sleep(this.wake.signal);
      again = true;
    }
  }
}

class RemovedSink extends Error {}

import { sleep } from '../core/backoff.js';
import type { DeadLetter } from '../core/dead-letter.js';
import type { Logger } from '../core/log.js';
import type { BusProducer, Channel, Source } from '../core/pipeline.js';
import type { StopClock } from '../core/stop-clock.js';
import { Forwarder } from './forwarder.js';

export interface NamedSource {
  name: string;
  source: Source;
}

export interface AgentOptions {
  batchEvents: number;
  /** See ForwarderOptions.lingerMs. */
  lingerMs?: number;
  /** See ForwarderOptions.maxInFlight. */
  maxInFlight?: number;
  /**
   * On stop, how long to keep forwarding what is buffered before leaving it in the channel
   * for next time; then as long again at most for the sends still in flight to settle.
   */
  drainTimeoutMs: number;
  /**
   * Where the producer puts events the bus refused for good (given to it as
   * BusProducerOptions.refused): opened before the producer, closed after it.
   */
  deadLetter?: DeadLetter;
}

/** The agent half: sources → channel → forwarder → bus. */
export class Agent {
  private readonly forwarder: Forwarder;

  constructor(
    readonly channel: Channel,
    private readonly sources: NamedSource[],
    private readonly producer: BusProducer,
    private readonly logger: Logger,
    private readonly options: AgentOptions,
  ) {
    this.forwarder = new Forwarder(channel, producer, logger.child({ stage: 'forwarder' }), {
      batchEvents: options.batchEvents,
      lingerMs: options.lingerMs,
      maxInFlight: options.maxInFlight,
    });
  }

  get forwarded(): number {
    return this.forwarder.forwarded;
  }

  async start(): Promise<void> {
    await this.channel.open();
    await this.options.deadLetter?.open();
    await this.producer.open();
    this.forwarder.start();
    for (const { source } of this.sources) await source.start(this.channel);
  }

  /**
   * Stops sources first (their positions are checkpointed with what the channel holds); a
   * source waiting in put() for room (the bus down, the channel full) has that put aborted,
   * or stopping would wait for it forever; it reads that batch again on the next start.
   * Then forwards what is buffered for up to drainTimeoutMs; whatever is left stays in the
   * (disk) channel and goes out on the next start. `afterDrain` runs once draining is over,
   * before the forwarder is stopped: under `sluice run` it interrupts the collector's
   * retries, so a send waiting on a dead sink fails (rolls back) instead of blocking exit.
   * Each step is marked on `clock`, for the stop's log line.
   */
  async stop(afterDrain?: () => void, clock?: StopClock): Promise<void> {
    const stopped = this.sources.map(({ name, source }) =>
      source.stop().catch((err: unknown) => this.logger.error({ source: name, err }, 'source failed to stop cleanly')),
    );
    this.channel.abortWaitingPuts();
    await Promise.all(stopped);
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (this.channel.stats().events > 0 && Date.now() < deadline) await sleep(20);
    const left = this.channel.stats().events;
    if (left > 0) this.logger.warn({ events: left }, 'drain timeout: events stay in the channel and are sent on the next start');
    clock?.mark('drain');
    afterDrain?.();
    // A send still out (a destination retrying on its own) gets as long again, then is left:
    // its events stay in the channel for the next start.
    await this.forwarder.stop(this.options.drainTimeoutMs);
    clock?.mark('forwarder');
    await this.producer.close();
    clock?.mark('producer');
    await this.options.deadLetter?.close();
    clock?.mark('dead_letter');
    await this.channel.close();
    clock?.mark('channel');
  }
}

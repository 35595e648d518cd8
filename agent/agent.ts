import { sleep } from '../core/backoff.js';
import type { Logger } from '../core/log.js';
import type { LogEvent } from '../core/event.js';
import type { BusProducer, Channel, ChannelWriter, Source } from '../core/pipeline.js';
import { Forwarder } from './forwarder.js';

export interface NamedSource {
  name: string;
  source: Source;
}

export interface AgentOptions {
  batchEvents: number;
  /** See ForwarderOptions.lingerMs. */
  lingerMs?: number;
  /** On stop, how long to keep forwarding what is buffered before leaving it in the channel for next time. */
  drainTimeoutMs: number;
  /** Applied to every batch a source puts, before the channel (the agent's transforms); returns the events to keep. */
  transform?: (events: LogEvent[]) => LogEvent[];
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
    this.forwarder = new Forwarder(channel, producer, logger.child({ component: 'forwarder' }), {
      batchEvents: options.batchEvents,
      lingerMs: options.lingerMs,
    });
  }

  get forwarded(): number {
    return this.forwarder.forwarded;
  }

  async start(): Promise<void> {
    await this.channel.open();
    await this.producer.open();
    this.forwarder.start();
    const transform = this.options.transform;
    // A source retries a refused batch with the same array: the transforms run once per
    // batch, never again on events they already changed. A batch they empty still carries
    // its checkpoint into the channel.
    const done = new WeakMap<LogEvent[], LogEvent[]>();
    const out: ChannelWriter = transform
      ? {
          put: (events, checkpoint) => {
            let kept = done.get(events);
            if (kept === undefined) done.set(events, (kept = transform(events)));
            return this.channel.put(kept, checkpoint);
          },
          lastCheckpoint: (s) => this.channel.lastCheckpoint(s),
        }
      : this.channel;
    for (const { source } of this.sources) await source.start(out);
  }

  /**
   * Stops sources first (their positions are checkpointed with what the channel holds),
   * then forwards what is buffered for up to drainTimeoutMs; whatever is left stays in
   * the (disk) channel and goes out on the next start. `afterDrain` runs once draining is
   * over, before the forwarder is stopped: under `sluice run` it interrupts the collector's
   * retries, so a send waiting on a dead sink fails (rolls back) instead of blocking exit.
   */
  async stop(afterDrain?: () => void): Promise<void> {
    for (const { name, source } of this.sources) {
      try {
        await source.stop();
      } catch (err) {
        this.logger.error({ source: name, err: (err as Error).message }, 'source failed to stop cleanly');
      }
    }
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (this.channel.stats().events > 0 && Date.now() < deadline) await sleep(20);
    const left = this.channel.stats().events;
    if (left > 0) this.logger.warn({ events: left }, 'drain timeout: events stay in the channel and are sent on the next start');
    afterDrain?.();
    await this.forwarder.stop();
    await this.producer.close();
    await this.channel.close();
  }
}

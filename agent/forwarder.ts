import { Backoff, sleep } from '../core/backoff.js';
import type { Logger } from '../core/log.js';
import type { BusProducer, Channel } from '../core/pipeline.js';

export interface ForwarderOptions {
  /** Most events per transaction taken from the channel. */
  batchEvents: number;
  /**
   * When the channel holds some events but fewer than batchEvents, wait this long for more
   * before taking them: fewer, fuller requests to the bus under light load. 0: never wait.
   */
  lingerMs?: number;
}

/**
 * The agent's last hop: takes transactions from the channel, sends them on the bus, and
 * commits each only once the bus has every event durably. A failed send rolls the
 * transaction back (the same events come again, in order) and retries with capped
 * backoff for as long as it takes: meanwhile the channel fills and sources pause. It logs
 * once when the bus goes down and once when it is back, not once per retry.
 */
export class Forwarder {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private down = false;
  forwarded = 0;

  constructor(
    private readonly channel: Channel,
    private readonly producer: BusProducer,
    private readonly logger: Logger,
    private readonly options: ForwarderOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops after the transaction in flight is committed or rolled back. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(100, 30_000);
    const signal = this.abort.signal;
    const linger = this.options.lingerMs ?? 0;
    while (!signal.aborted) {
      if (linger > 0 && !this.down) {
        const buffered = this.channel.stats().events;
        if (buffered > 0 && buffered < this.options.batchEvents) await sleep(linger, signal);
      }
      const tx = await this.channel.take(this.options.batchEvents, signal);
      if (tx.events.length === 0) {
        await tx.commit();
        continue;
      }
      try {
        await this.producer.send(tx.events);
      } catch (err) {
        await tx.rollback();
        if (!this.down) {
          this.down = true;
          this.logger.error(
            { err: errorMessage(err), events: tx.events.length },
            'bus send failed; events stay in the channel and are retried until the bus takes them',
          );
        }
        await backoff.sleep(signal);
        continue;
      }
      await tx.commit();
      this.forwarded += tx.events.length;
      if (this.down) {
        this.down = false;
        this.logger.info({ retries: backoff.failures }, 'bus is accepting events again');
      }
      backoff.reset();
    }
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

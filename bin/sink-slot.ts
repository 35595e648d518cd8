import type { LogEvent } from '../core/event.js';
import type { Logger } from '../core/log.js';
import type { Sink, WriteResult } from '../core/pipeline.js';
import type { ComponentConfig } from '../config/load.js';
import type { ComponentStatus, Readiness } from '../api/readiness.js';
import { ComponentMeter } from './instrument.js';

/**
 * A sink as the collector holds it: one stable handle per sink name, with its metrics and
 * readiness around every write, whose implementation a reload can replace. A batch being
 * retried simply goes to the new implementation on its next attempt — which is how a sink
 * whose options were wrong (an unreachable URL) is fixed by a reload without losing the
 * batch — and the old one is closed once its writes in flight have settled.
 */
export class SinkSlot implements Sink {
  private impl: Sink;
  private opened = false;
  private readonly inFlight = new Map<Sink, Set<Promise<unknown>>>();
  /** While a reload replaces the implementation: writes wait for it. */
  private switching: Promise<void> | undefined;
  /** What the collector writes again (the batch whose write failed, or the events the sink asked to retry): counted as received once. */
  private failedBatch: readonly LogEvent[] | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    public config: ComponentConfig<'sink'>,
    impl: Sink,
    public meter: ComponentMeter,
    private status: ComponentStatus,
  ) {
    this.impl = impl;
  }

  static id(name: string): string {
    return `sinks.${name}`;
  }

  async open(): Promise<void> {
    if (this.opened) return;
    try {
      await this.impl.open();
    } catch (err) {
      this.meter.error('sending');
      this.status.crashed(err);
      throw new Error(`${SinkSlot.id(this.name)}: could not open: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.opened = true;
    this.status.running();
  }

  /** The implementation was opened by the reload that built it. */
  adoptOpened(): void {
    this.opened = true;
    this.status.running();
  }

  async write(batch: readonly LogEvent[], lane?: string): Promise<WriteResult> {
    if (this.switching !== undefined) await this.switching;
    if (batch !== this.failedBatch) this.meter.received(batch);
    const impl = this.impl;
    const write = impl.write(batch, lane);
    let writes = this.inFlight.get(impl);
    if (!writes) this.inFlight.set(impl, (writes = new Set()));
    writes.add(write);
    let result: WriteResult;
    try {
      result = await write;
    } catch (err) {
      this.failedBatch = batch;
      this.meter.error('sending');
      this.status.failed(err);
      throw err;
    } finally {
      writes.delete(write);
    }
    const done = batch.length - result.retry.length - result.refused.length;
    this.failedBatch = result.retry.length > 0 ? result.retry : undefined;
    // Refused events are the collector's to dead-letter; counted here as the sink's.
    if (result.refused.length > 0) this.meter.discarded('rejected', result.refused.length);
    if (done === batch.length) {
      this.meter.sent(batch);
      this.meter.delivered(batch);
    } else if (done > 0) {
      const gone = new Set<LogEvent>(result.retry);
      for (const r of result.refused) gone.add(r.event);
      const stored = batch.filter((e) => !gone.has(e));
      this.meter.sent(stored);
      this.meter.delivered(stored);
    }
    this.status.ok();
    return result;
  }

  /**
   * Swaps in `next` (built, not opened): new writes wait while the writes in flight on the
   * old implementation settle, the old one is closed, then `next` is opened — in that
   * order, because two instances of a sink on one destination must never overlap (a file
   * sink opening finishes the in-progress files it finds: the old one's). When `next`
   * cannot open, a fresh instance of the previous config (`previous()`) takes over and
   * the error is thrown: the sink runs on as it was.
   */
  async replace(next: Sink, config: ComponentConfig<'sink'>, previous: () => Sink, readiness: Readiness, logger: Logger): Promise<void> {
    let release: () => void = () => {};
    this.switching = new Promise<void>((r) => (release = r));
    const old = this.impl;
    try {
      await Promise.allSettled([...(this.inFlight.get(old) ?? [])]);
      this.inFlight.delete(old);
      if (this.opened) {
        try {
          await old.close();
        } catch (err) {
          logger.error({ component: SinkSlot.id(this.name), err }, 'replaced sink failed to close cleanly');
        }
      }
      try {
        await next.open();
      } catch (err) {
        const back = previous();
        this.impl = back;
        try {
          await back.open();
        } catch (reopen) {
          this.opened = false;
          this.status.crashed(reopen);
          throw new Error(
            `${SinkSlot.id(this.name)}: could not open with the new options (${errorText(err)}), nor again with the previous ones (${errorText(reopen)})`,
          );
        }
        throw new Error(
          `${SinkSlot.id(this.name)}: could not open with the new options: ${errorText(err)}; it runs on with the previous ones`,
        );
      }
      if (config.type !== this.config.type) {
        // Another type under the same name: its series and readiness entry are another component's.
        const id = SinkSlot.id(this.name);
        await this.meter.remove();
        readiness.remove(id);
        this.meter = new ComponentMeter({ component: id, kind: 'sink', type: config.type });
        this.status = readiness.add(id, 'sink', config.type, 'grace');
      }
      this.impl = next;
      this.config = config;
      this.opened = true;
      this.failedBatch = undefined;
      this.status.running();
    } finally {
      this.switching = undefined;
      release();
    }
  }

  /** Resolves once the writes in flight (on every implementation) have settled. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()].flatMap((writes) => [...writes]));
  }

  /** Resolves once the implementation is closed, also when a close is already under way. */
  async close(): Promise<void> {
    this.status.stopped();
    if (this.closing !== undefined) return this.closing;
    if (!this.opened) return;
    this.opened = false;
    this.closing = this.impl.close().finally(() => (this.closing = undefined));
    return this.closing;
  }
}

/** Makes a sink's slot: its instance, meter and readiness entry (not opened yet). */
export function makeSinkSlot(config: ComponentConfig<'sink'>, impl: Sink, readiness: Readiness): SinkSlot {
  const id = SinkSlot.id(config.name);
  const meter = new ComponentMeter({ component: id, kind: 'sink', type: config.type });
  const status = readiness.add(id, 'sink', config.type, 'grace');
  status.starting();
  return new SinkSlot(config.name, config, impl, meter, status);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

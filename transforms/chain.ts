import type { LogEvent } from '../core/event.js';
import type { Logger } from '../core/log.js';
import { counter } from '../core/metrics.js';
import { detectLevels } from './level/detect.js';
import { metricName, type Transform } from './transform.js';

const received = counter('sluice_transform_events_received_total', 'events a transform was given', ['component']);
const sent = counter('sluice_transform_events_sent_total', 'events a transform passed on', ['component']);
const failures = counter('sluice_transform_failures_total', 'batches a transform threw on (a bug: the batch went on as the step left it)', [
  'component',
]);

export interface ChainOptions {
  /** Set `level` from the message on events that have none, before the first transform (the agent's default). */
  detectLevel: boolean;
  logger: Logger;
}

/**
 * Transforms applied one after the other to a batch, synchronously: the agent runs its
 * chain on each batch a source puts, before the channel; the collector on each batch from
 * the bus, before routing. Every step counts what it received and sent; what it dropped on
 * purpose it counts itself, by reason.
 *
 * A transform handles bad log content itself (a failed parse marks the event). Should a
 * step throw anyway, the batch goes on as that step left it, and the failure is logged and
 * counted: a bug in a transform must not stop the pipeline or lose the batch.
 */
export class TransformChain {
  private readonly counted: { step: Transform; received: { inc(n: number): void }; sent: { inc(n: number): void } }[];

  constructor(
    readonly steps: readonly Transform[],
    private readonly options: ChainOptions,
  ) {
    this.counted = steps.map((step) => ({
      step,
      received: received.labels({ component: metricName(step.name) }),
      sent: sent.labels({ component: metricName(step.name) }),
    }));
  }

  get empty(): boolean {
    return this.steps.length === 0 && !this.options.detectLevel;
  }

  apply(events: LogEvent[]): LogEvent[] {
    if (this.options.detectLevel) detectLevels(events);
    let batch = events;
    for (const c of this.counted) {
      if (batch.length === 0) break;
      c.received.inc(batch.length);
      try {
        batch = c.step.apply(batch);
      } catch (err) {
        failures.inc({ component: metricName(c.step.name) });
        this.options.logger.error({ transform: c.step.name, events: batch.length, err }, 'transform failed on a batch; passing it on');
      }
      c.sent.inc(batch.length);
    }
    return batch;
  }
}

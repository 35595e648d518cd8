import { z } from 'zod';
import { byteSize, duration } from '../units.js';

/**
 * The one `batch:` block of everything that groups events before handing them on (the
 * file source's puts, the Kafka producer, the sinks):
 *
 *   batch: { max_events: 2000, max_bytes: 1MiB, timeout: 5ms }
 *
 * A batch goes when it holds max_events, or max_bytes, or when its first event has waited
 * `timeout`. Each component gives its own defaults (what suits a disk write differs from
 * what suits a bulk request), through this one schema.
 */
export interface BatchDefaults {
  max_events: number;
  max_bytes: number;
  /** Milliseconds. */
  timeout: number;
  /** Upper bound of max_events for this component. */
  max_events_limit?: number;
}

export function batchOptions(defaults: BatchDefaults) {
  const shape = z.strictObject({
    max_events: z
      .number()
      .int()
      .min(1)
      .max(defaults.max_events_limit ?? 1_000_000)
      .default(defaults.max_events)
      .describe('Most events in one batch'),
    max_bytes: byteSize().default(defaults.max_bytes).describe('Most bytes in one batch (encoded size)'),
    timeout: duration().default(defaults.timeout).describe('How long the first event of a batch waits for a fuller batch'),
  });
  return shape.default({ max_events: defaults.max_events, max_bytes: defaults.max_bytes, timeout: defaults.timeout });
}

export type BatchOptions = z.infer<ReturnType<typeof batchOptions>>;

import { type Aggregator, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics, one registry for every component. Every family is made through
 * the helpers below, so the same name is never registered twice (two instances of a
 * component share the family) and every component series carries the same labels:
 * `component` (its config name, `sources.app`), and whatever the family adds.
 */
export const metrics = new Registry();
collectDefaultMetrics({ register: metrics, prefix: 'sluice_process_' });

function family<T>(name: string, make: () => T): T {
  return (metrics.getSingleMetric(name) as T | undefined) ?? make();
}

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return family(name, () => new Counter({ name, help, labelNames, registers: [metrics] }));
}

export interface GaugeOptions<L extends string> {
  /** Runs at every scrape, for a value that changes with time alone (an age). */
  collect?: (this: Gauge<L>) => void;
  /**
   * How a collector's supervisor merges its workers' values of this gauge (api/group.ts):
   * summed unless set, which is right for what each worker holds on its own (open files);
   * `max` for a value every worker measures of the same thing, `min` for "all of them".
   */
  aggregator?: Aggregator;
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[], options: GaugeOptions<L> = {}): Gauge<L> {
  return family(name, () => new Gauge({ name, help, labelNames, registers: [metrics], ...options }));
}

export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
  return family(name, () => new Histogram({ name, help, labelNames, buckets, registers: [metrics] }));
}

import { type Aggregator, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics, one registry for every component. Every family is made through
 * the helpers below, so the same name is never registered twice (two instances of a
 * component share the family) and every component series carries the same labels:
 * `component` (its config name, `sources.app`), and whatever the family adds.
 */
export const metrics = new Registry();

let processMetrics = false;

/**
 * The registry as a scrape renders it. The process's own series (`sluice_process_*`: CPU,
 * memory, handles, GC, event-loop lag) begin with the first scrape: prom-client's lag
 * monitor wakes the event loop every 10 ms, which was half of what an idle agent costs
 * (1.2 % of a core with one file tailed, 0.6 % without it), a price a sidecar nobody scrapes
 * should not pay. Scraped, the figures are the same: CPU and memory are the process's own
 * totals, and the lag is measured from the first scrape on.
 */
export function scraped(): Registry {
  if (!processMetrics) {
    processMetrics = true;
    collectDefaultMetrics({ register: metrics, prefix: 'sluice_process_' });
  }
  return metrics;
}

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

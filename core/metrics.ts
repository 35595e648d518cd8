import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

/** `collect` runs at every scrape, for a value that changes with time alone (an age). */
export function gauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  return family(name, () => new Gauge({ name, help, labelNames, registers: [metrics], ...(collect ? { collect } : {}) }));
}

export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
  return family(name, () => new Histogram({ name, help, labelNames, buckets, registers: [metrics] }));
}

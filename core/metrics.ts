import { type Aggregator, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics, one registry for every component. Every family is made through
 * the helpers below, so the same name is never registered twice (two instances of a
 * component share the family) and every component series carries the same labels:
 * `component` (its config name, `sources.app`), and whatever the family adds.
 */
export const metrics = new Registry();

/**
 * prom-client's process series (`sluice_process_*`: CPU, memory, handles, GC), all but the
 * event-loop-lag histogram: its monitor wakes the loop every `eventLoopMonitoringPrecision`
 * ms, and at the default 10 ms it was half of what an idle agent costs (1.2 % of a core with
 * one file tailed, 0.5 % without it). At 2^31-1 ms its timer fires once in 24 days, and the
 * seven series it feeds (min, max, mean, stddev, p50, p90, p99) are taken out: they would
 * report no samples. The lag measured at each scrape (`nodejs_eventloop_lag_seconds`, how
 * late a setImmediate runs) stays, costing nothing between scrapes.
 */
collectDefaultMetrics({ register: metrics, prefix: 'sluice_process_', eventLoopMonitoringPrecision: 2 ** 31 - 1 });
for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'])
  metrics.removeSingleMetric(`sluice_process_nodejs_eventloop_lag_${stat}_seconds`);

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

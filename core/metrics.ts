import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics, one registry for every component: each component labels its
 * series with `component` (its config name). Exposed by the CLI's status line and, later,
 * a /metrics endpoint.
 */
export const metrics = new Registry();
collectDefaultMetrics({ register: metrics, prefix: 'sluice_process_' });

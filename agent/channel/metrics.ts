import { Counter, Gauge, Histogram } from 'prom-client';
import { metrics } from '../../core/metrics.js';

/**
 * Channel metrics, shared by the disk and memory channels and labelled with the channel's
 * config name, so a dashboard shows every buffer the same way whatever its type.
 */
const labelNames = ['component'] as const;

export const channelMetrics = {
  bufferedEvents: new Gauge({
    name: 'sluice_channel_buffered_events',
    help: 'Events put and not yet committed by the taker',
    labelNames,
    registers: [metrics],
  }),
  bufferedBytes: new Gauge({
    name: 'sluice_channel_buffered_bytes',
    help: 'Bytes of events put and not yet committed (encoded size; disk: record frames)',
    labelNames,
    registers: [metrics],
  }),
  diskBytes: new Gauge({
    name: 'sluice_channel_disk_bytes',
    help: 'Bytes the disk channel occupies on disk (segment files plus writes in flight); bounded by max_bytes',
    labelNames,
    registers: [metrics],
  }),
  segments: new Gauge({
    name: 'sluice_channel_segments',
    help: 'Segment files of the disk channel',
    labelNames,
    registers: [metrics],
  }),
  full: new Gauge({
    name: 'sluice_channel_full',
    help: '1 while puts wait for space (sources are paused by backpressure)',
    labelNames,
    registers: [metrics],
  }),
  blocked: new Gauge({
    name: 'sluice_channel_blocked',
    help: '1 while writes fail with a disk error and are being retried (sources are paused)',
    labelNames,
    registers: [metrics],
  }),
  putEvents: new Counter({
    name: 'sluice_channel_put_events_total',
    help: 'Events made durable by put',
    labelNames,
    registers: [metrics],
  }),
  committedEvents: new Counter({
    name: 'sluice_channel_committed_events_total',
    help: 'Events released by a committed transaction',
    labelNames,
    registers: [metrics],
  }),
  rolledBackEvents: new Counter({
    name: 'sluice_channel_rolled_back_events_total',
    help: 'Events given back by a rolled back transaction, to be delivered again',
    labelNames,
    registers: [metrics],
  }),
  corruptBytes: new Counter({
    name: 'sluice_channel_corrupt_bytes_total',
    help: 'Bytes of damaged records skipped or cut off by the disk channel',
    labelNames,
    registers: [metrics],
  }),
  fsyncSeconds: new Histogram({
    name: 'sluice_channel_fsync_seconds',
    help: 'Latency of the fsyncs that make disk channel writes durable',
    labelNames,
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  }),
};

/** Drops a closed channel's series, so a reloaded config does not leave stale gauges behind. */
export function removeChannelMetrics(component: string): void {
  for (const metric of Object.values(channelMetrics)) metric.remove({ component });
}

import { counter, gauge, histogram } from '../../core/metrics.js';

/**
 * Channel metrics, shared by the disk and memory channels and labelled with the channel's
 * config name, so a dashboard shows every buffer the same way whatever its type.
 */
const labels = ['component'] as const;

/** Each open channel's oldest put time (ms), read at scrape time: an age grows while nothing happens. */
const oldestPut = new Map<string, () => number | undefined>();

export const channelMetrics = {
  bufferedEvents: gauge('sluice_channel_buffered_events', 'Events put and not yet committed by the taker', labels),
  bufferedBytes: gauge(
    'sluice_channel_buffered_bytes',
    'Bytes of events put and not yet committed (encoded size; disk: record frames)',
    labels,
  ),
  diskBytes: gauge(
    'sluice_channel_disk_bytes',
    'Bytes the disk channel occupies on disk (segment files plus writes in flight); bounded by max_bytes',
    labels,
  ),
  segments: gauge('sluice_channel_segments', 'Segment files of the disk channel', labels),
  fillRatio: gauge(
    'sluice_channel_fill_ratio',
    'How full the channel is, 0 to 1: disk bytes / max_bytes (disk); the larger of events / max_events and bytes / max_bytes (memory)',
    labels,
  ),
  oldestEventAge: gauge(
    'sluice_channel_oldest_event_age_seconds',
    'Seconds since the oldest event not yet committed was put (0 when empty); after a restart, recovered events count from the last write of the oldest segment',
    labels,
    {
      collect() {
        const now = Date.now();
        for (const [component, oldest] of oldestPut) {
          const at = oldest();
          this.set({ component }, at === undefined ? 0 : Math.max(0, now - at) / 1000);
        }
      },
    },
  ),
  full: gauge('sluice_channel_full', '1 while puts wait for space (sources are paused by backpressure)', labels),
  blocked: gauge('sluice_channel_blocked', '1 while writes fail with a disk error and are being retried (sources are paused)', labels),
  putEvents: counter('sluice_channel_put_events_total', 'Events made durable by put', labels),
  committedEvents: counter('sluice_channel_committed_events_total', 'Events released by a committed transaction', labels),
  rolledBackEvents: counter(
    'sluice_channel_rolled_back_events_total',
    'Events given back by a rolled back transaction, to be delivered again',
    labels,
  ),
  corruptBytes: counter('sluice_channel_corrupt_bytes_total', 'Bytes of damaged records skipped or cut off by the disk channel', labels),
  pointerSyncs: counter(
    'sluice_channel_pointer_syncs_total',
    "fdatasyncs of the disk channel's commit pointer: one per commit with commit_fsync: always, at most one per interval otherwise",
    labels,
  ),
  fsyncSeconds: histogram(
    'sluice_channel_fsync_seconds',
    'Latency of the fsyncs that make disk channel writes durable',
    labels,
    [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  ),
};

/** Drops a closed channel's series, so a reloaded config does not leave stale gauges behind. */
export function removeChannelMetrics(component: string): void {
  oldestPut.delete(component);
  for (const metric of Object.values(channelMetrics)) metric.remove({ component });
}

/** The oldest buffered event's put time of an open channel, reported at every scrape until removeChannelMetrics. */
export function reportOldestPut(component: string, oldest: () => number | undefined): void {
  oldestPut.set(component, oldest);
}

import { counter, gauge } from '../../core/metrics.js';

const labels = ['component'] as const;

export const webhdfsMetrics = {
  events: counter('sluice_webhdfs_sink_events_total', 'Events written to HDFS and journaled', labels),
  bytes: counter('sluice_webhdfs_sink_bytes_total', 'Bytes appended to HDFS files (as stored)', labels),
  openFiles: gauge('sluice_webhdfs_sink_open_files', 'In-progress HDFS files the sink writes', labels),
  finishedFiles: counter('sluice_webhdfs_sink_finished_files_total', 'HDFS files finished (renamed from in-progress)', labels),
  recoveredFiles: counter(
    'sluice_webhdfs_sink_recovered_files_total',
    'In-progress HDFS files left by a previous run and finished',
    labels,
  ),
  cutBytes: counter('sluice_webhdfs_sink_cut_bytes_total', 'Bytes of unacknowledged writes truncated off HDFS files', labels),
  restoredBytes: counter(
    'sluice_webhdfs_sink_restored_bytes_total',
    'Acknowledged bytes HDFS lost at the end of a file (a DataNode died mid-append) and the sink wrote again',
    labels,
  ),
  lostBytes: counter(
    'sluice_webhdfs_sink_lost_bytes_total',
    'Acknowledged bytes missing from an HDFS file that could not be written again (cut or removed by someone else)',
    labels,
  ),
  duplicates: counter(
    'sluice_webhdfs_sink_duplicates_skipped_total',
    'Events not written because HDFS already holds them (delivered again after a crash)',
    labels,
  ),
  refused: counter('sluice_webhdfs_sink_refused_events_total', 'Events sent to the dead-letter because HDFS refuses their path', labels),
  expiredDays: counter('sluice_webhdfs_sink_expired_day_dirs_total', 'Day directories deleted by retention', labels),
};

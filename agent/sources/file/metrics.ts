import { counter, gauge } from '../../../core/metrics.js';

/** Series of every file source (and the docker source, which is one), labelled with the component name. */
const c = (name: string, help: string) => counter(name, help, ['component'] as const);

export const fileMetrics = {
  events: c('sluice_file_source_events_total', 'Events the file source handed to the channel'),
  bytes: c('sluice_file_source_bytes_total', 'File bytes covered by the events handed to the channel'),
  truncated: c('sluice_file_source_truncated_events_total', 'Lines or joined events longer than max_event_bytes that were truncated'),
  split: c('sluice_file_source_split_events_total', 'Pieces of lines or joined events longer than max_event_bytes (long_lines: split)'),
  skipped: c(
    'sluice_file_source_skipped_events_total',
    'Lines or joined events longer than max_event_bytes that were dropped (long_lines: skip)',
  ),
  invalidTimes: c(
    'sluice_file_source_invalid_times_total',
    'Lines whose parsed time was unusable (unparseable or out of range): read time used, fields["log.time_invalid"] set',
  ),
  truncations: c('sluice_file_source_truncations_total', 'Files found truncated or rewritten (copytruncate): read again from the start'),
  released: c('sluice_file_source_released_total', 'Files let go after they were renamed away or deleted and read to their end'),
  restarts: c('sluice_file_source_restarts_total', 'Times the source restarted from its last durable position after an unexpected error'),
  fileErrors: c(
    'sluice_file_source_file_errors_total',
    'I/O errors of one file (EIO, ESTALE) taking it up, reading or checking it: that file is tried again after a backoff, the others go on',
  ),
  openFiles: gauge('sluice_file_source_open_files', 'Descriptors the file source holds open', ['component'] as const),
  lag: gauge(
    'sluice_file_source_lag_bytes',
    "Bytes of the followed files not yet in the channel: each file's size at the last look minus its durable position, summed",
    ['component'] as const,
  ),
  backlogTotal: gauge(
    'sluice_file_source_backlog_total_bytes',
    'The backlog being read (progress_after): bytes behind when it began plus what the files grew by since; 0 when none',
    ['component'] as const,
  ),
  backlogDone: gauge('sluice_file_source_backlog_done_bytes', 'Bytes of the backlog being read that are in the channel; 0 when none', [
    'component',
  ] as const),
};

import { Counter, Gauge } from 'prom-client';
import { metrics } from '../../../core/metrics.js';

/** Series of every file source, labelled with the component name; created once per process. */
function counter(name: string, help: string): Counter<'component'> {
  return (
    (metrics.getSingleMetric(name) as Counter<'component'> | undefined) ??
    new Counter({ name, help, labelNames: ['component'], registers: [metrics] })
  );
}

export const fileMetrics = {
  events: counter('sluice_file_source_events_total', 'Events the file source handed to the channel'),
  bytes: counter('sluice_file_source_bytes_total', 'File bytes covered by the events handed to the channel'),
  truncatedLines: counter('sluice_file_source_truncated_lines_total', 'Lines longer than max_line_bytes that were truncated'),
  splitLines: counter('sluice_file_source_split_lines_total', 'Pieces of lines longer than max_line_bytes that were split'),
  truncations: counter(
    'sluice_file_source_truncations_total',
    'Files found truncated or rewritten (copytruncate): read again from the start',
  ),
  released: counter('sluice_file_source_released_total', 'Files let go after they were renamed away or deleted and read to their end'),
  openFiles:
    (metrics.getSingleMetric('sluice_file_source_open_files') as Gauge<'component'> | undefined) ??
    new Gauge({
      name: 'sluice_file_source_open_files',
      help: 'Descriptors the file source holds open',
      labelNames: ['component'],
      registers: [metrics],
    }),
};

import { Counter, Gauge } from 'prom-client';
import { metrics } from '../../core/metrics.js';

const labelNames = ['component'] as const;

export const fileSinkMetrics = {
  events: new Counter({
    name: 'sluice_file_sink_events_total',
    help: 'Events written durably by the file sink',
    labelNames,
    registers: [metrics],
  }),
  bytes: new Counter({
    name: 'sluice_file_sink_bytes_total',
    help: 'Bytes written durably by the file sink (as on disk)',
    labelNames,
    registers: [metrics],
  }),
  openFiles: new Gauge({
    name: 'sluice_file_sink_open_files',
    help: 'In-progress files the file sink has open',
    labelNames,
    registers: [metrics],
  }),
  finishedFiles: new Counter({
    name: 'sluice_file_sink_finished_files_total',
    help: 'Files finished (renamed from in-progress) by the file sink',
    labelNames,
    registers: [metrics],
  }),
  recoveredFiles: new Counter({
    name: 'sluice_file_sink_recovered_files_total',
    help: 'In-progress files left by a previous run and finished on start',
    labelNames,
    registers: [metrics],
  }),
  cutBytes: new Counter({
    name: 'sluice_file_sink_cut_bytes_total',
    help: 'Bytes of partial lines or gzip members cut off in-progress files on start',
    labelNames,
    registers: [metrics],
  }),
  duplicates: new Counter({
    name: 'sluice_file_sink_duplicates_skipped_total',
    help: 'Events not written because the tree already holds them (delivered again after a crash, or sent twice)',
    labelNames,
    registers: [metrics],
  }),
  expiredDays: new Counter({
    name: 'sluice_file_sink_expired_day_dirs_total',
    help: 'Day directories deleted by retention',
    labelNames,
    registers: [metrics],
  }),
};

import type { Logger } from '../core/log.js';
import { formatCount } from '../core/unit-text.js';
import { metrics } from '../core/metrics.js';
import type { Channel } from '../core/pipeline.js';

/**
 * The live status line of `sluice run`: events/s into the channel and out to the sinks,
 * what is buffered, and files written (finished, and in progress: the file sink's hidden
 * `.NAME.inprogress` files, renamed when rolled). It goes to stderr, with Sluice's own
 * logs, so it never garbles events a console sink prints on stdout. On a terminal it
 * redraws one line in place every second; otherwise (a service manager, a pipe) it logs
 * the same figures as a JSON line every `logEveryMs`, so it never mixes free text into a
 * log stream. `sluice top` shows every component the same way, live.
 */
export interface StatusInputs {
  channel?: Channel;
  /** Events every sink has written durably (the collector's count). */
  written?: () => number;
}

export interface StatusLine {
  stop(): void;
}

export interface StatusOptions {
  out?: NodeJS.WriteStream;
  logger: Logger;
  intervalMs?: number;
  logEveryMs?: number;
}

interface Sample {
  at: number;
  in: number;
  out: number;
}

async function sum(name: string): Promise<number> {
  const metric = metrics.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.reduce((n, v) => n + v.value, 0);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export interface StatusFigures {
  inPerSec: number;
  outPerSec: number;
  bufferedEvents: number;
  bufferedBytes: number;
  filesFinished: number;
  filesOpen: number;
  uptimeMs: number;
}

export function formatStatus(f: StatusFigures): string {
  return [
    `in ${formatCount(f.inPerSec)} ev/s`,
    `out ${formatCount(f.outPerSec)} ev/s`,
    `buffered ${formatBytes(f.bufferedBytes)} (${formatCount(f.bufferedEvents)} ev)`,
    `files ${f.filesFinished} done, ${f.filesOpen} in progress`,
    `up ${formatDuration(f.uptimeMs)}`,
  ].join(' | ');
}

export function startStatusLine(inputs: StatusInputs, options: StatusOptions): StatusLine {
  const out = options.out ?? process.stderr;
  const tty = out.isTTY === true;
  const intervalMs = options.intervalMs ?? 1000;
  const logEveryMs = options.logEveryMs ?? 30_000;
  const started = Date.now();
  let previous: Sample | undefined;
  let drawn = false;

  const measure = async (): Promise<StatusFigures> => {
    const now = Date.now();
    const sample: Sample = { at: now, in: await sum('sluice_channel_put_events_total'), out: inputs.written?.() ?? 0 };
    const base = previous ?? { at: started, in: 0, out: 0 };
    const secs = Math.max(0.001, (now - base.at) / 1000);
    previous = sample;
    const buffered = inputs.channel?.stats() ?? { events: 0, bytes: 0 };
    return {
      inPerSec: (sample.in - base.in) / secs,
      outPerSec: (sample.out - base.out) / secs,
      bufferedEvents: buffered.events,
      bufferedBytes: buffered.bytes,
      filesFinished: await sum('sluice_file_sink_finished_files_total'),
      filesOpen: await sum('sluice_file_sink_open_files'),
      uptimeMs: now - started,
    };
  };

  let busy = false;
  const timer = setInterval(
    () => {
      if (busy) return;
      busy = true;
      measure()
        .then((figures) => {
          if (tty) {
            out.write(`\r\x1b[2K${formatStatus(figures)}`);
            drawn = true;
          } else {
            options.logger.info(
              {
                in_per_sec: Math.round(figures.inPerSec),
                out_per_sec: Math.round(figures.outPerSec),
                buffered_events: figures.bufferedEvents,
                buffered_bytes: figures.bufferedBytes,
                files_finished: figures.filesFinished,
                files_open: figures.filesOpen,
                uptime_ms: figures.uptimeMs,
              },
              'status',
            );
          }
        })
        .catch((err: unknown) => options.logger.debug({ err: (err as Error).message }, 'status line could not be measured'))
        .finally(() => (busy = false));
    },
    tty ? intervalMs : logEveryMs,
  );
  timer.unref();

  return {
    stop() {
      clearInterval(timer);
      if (drawn) out.write('\n');
    },
  };
}

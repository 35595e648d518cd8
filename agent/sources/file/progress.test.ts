import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { metrics } from '../../../core/metrics.js';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import { FileBacklog } from './progress.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';

async function gaugeOf(name: string, component: string): Promise<number | undefined> {
  return (await metrics.getSingleMetric(name)!.get()).values.find((v) => v.labels.component === component)?.value;
}

const progressLines = (lines: Record<string, unknown>[]) =>
  lines
    .filter((l) => ['backlog to read', 'reading backlog', 'backlog read; caught up'].includes(l.msg as string))
    .map(({ level: _l, time: _t, pid: _p, hostname: _h, ...rest }) => rest);

describe('FileBacklog', () => {
  test('logs a backlog when it begins, every interval with done / total, rate and time left, and once caught up', async () => {
    const { logger, lines } = captureLogger();
    const p = new FileBacklog(logger, { component: 'bp' }, 1000, 10_000);
    p.update(0, 999, 1, 0, false); // under the threshold: nothing
    p.update(1_000, 4000, 2, 0, false);
    expect(await gaugeOf('sluice_file_source_backlog_total_bytes', 'bp')).toBe(4000);
    p.update(5_000, 3000, 2, 1000, false); // within the interval: gauges only
    expect(await gaugeOf('sluice_file_source_backlog_done_bytes', 'bp')).toBe(1000);
    // 2000 done in 10 s, the files grew by 500 meanwhile: total 4500, 2500 left at 200 B/s.
    p.update(11_000, 2500, 2, 1000, false);
    p.update(16_000, 500, 2, 2000, false);
    p.update(21_000, 100, 2, 400, false); // 2400 in 10 s since the last line
    p.update(22_000, 0, 2, 100, true);
    expect(progressLines(lines)).toEqual([
      { msg: 'backlog to read', total_bytes: 4000, files: 2 },
      {
        msg: 'reading backlog',
        done_bytes: 2000,
        total_bytes: 4500,
        percent: 44.4,
        bytes_per_second: 200,
        seconds_left: 13,
        files: 2,
      },
      {
        msg: 'reading backlog',
        done_bytes: 4400,
        total_bytes: 4500,
        percent: 97.8,
        bytes_per_second: 240,
        seconds_left: 0,
        files: 2,
      },
      { msg: 'backlog read; caught up', done_bytes: 4500, seconds: 21, bytes_per_second: 214 },
    ]);
    expect(await gaugeOf('sluice_file_source_backlog_total_bytes', 'bp')).toBe(0);
    expect(await gaugeOf('sluice_file_source_backlog_done_bytes', 'bp')).toBe(0);
    expect(await gaugeOf('sluice_file_source_lag_bytes', 'bp')).toBe(0);
    p.remove();
    expect(await gaugeOf('sluice_file_source_lag_bytes', 'bp')).toBeUndefined();
  });

  test('progress_after 0 never logs; the lag is still measured', async () => {
    const { logger, lines } = captureLogger();
    const p = new FileBacklog(logger, { component: 'bp0' }, 0, 10_000);
    p.update(0, 1e9, 1, 0, false);
    p.update(20_000, 1e8, 1, 9e8, false);
    expect(progressLines(lines)).toEqual([]);
    expect(await gaugeOf('sluice_file_source_lag_bytes', 'bp0')).toBe(1e8);
    expect(await gaugeOf('sluice_file_source_backlog_total_bytes', 'bp0')).toBe(0);
    p.remove();
  });
});

const sources = sourcesUnderTest('file-progress');

describe('file source lag', () => {
  test('is the file size until the channel has its events, 0 once it has them all; a large backlog is logged', async () => {
    const log = join(sources.dir, 'big.log');
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 40)}\n`).join('');
    const size = Buffer.byteLength(text);
    await writeFile(log, text);
    const ch = new RecordingChannel();
    let open!: () => void;
    ch.gate = new Promise((r) => (open = r));
    const { logger, lines } = captureLogger();
    await sources.start(
      { include: [join(sources.dir, '*.log')], progress_after: '64KiB', batch: { max_events: 500 } },
      ch,
      'lagged',
      logger,
    );
    await waitFor('the first put', () => ch.puts === 1);
    // Read, but not in the channel: still behind by the whole file.
    expect(await gaugeOf('sluice_file_source_lag_bytes', 'lagged')).toBe(size);
    expect(await gaugeOf('sluice_file_source_backlog_total_bytes', 'lagged')).toBe(size);
    expect(await gaugeOf('sluice_file_source_backlog_done_bytes', 'lagged')).toBe(0);
    open();
    await waitFor('every line', () => ch.events.length === 5000);
    await waitFor('caught up', () => lines.some((l) => l.msg === 'backlog read; caught up'));
    expect(await gaugeOf('sluice_file_source_lag_bytes', 'lagged')).toBe(0);
    expect(await gaugeOf('sluice_file_source_backlog_total_bytes', 'lagged')).toBe(0);
    const logged = progressLines(lines).map(({ seconds: _s, bytes_per_second: _b, ...rest }) => rest);
    // 5000 lines in puts of 500: ten puts, a rate line only if one took 10 s.
    expect(logged.filter((l) => l.msg !== 'reading backlog')).toEqual([
      { msg: 'backlog to read', total_bytes: size, files: 1 },
      { msg: 'backlog read; caught up', done_bytes: size },
    ]);

    // A small append is lag while unread, no backlog.
    await appendFile(log, 'one more\n');
    await waitFor('the appended line', () => ch.events.length === 5001);
    await waitFor('lag 0 again', async () => (await gaugeOf('sluice_file_source_lag_bytes', 'lagged')) === 0);
    expect(progressLines(lines)).toHaveLength(logged.length);
  });

  test('starts at 0 for files read from their end', async () => {
    const log = join(sources.dir, 'old.log');
    await writeFile(log, 'x'.repeat(100_000));
    const ch = new RecordingChannel();
    await sources.start({ include: [log], start_at: 'end' }, ch, 'at-end');
    expect(await gaugeOf('sluice_file_source_lag_bytes', 'at-end')).toBe(0);
  });
});

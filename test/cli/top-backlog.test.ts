/**
 * Progress on long work, seen from outside (issue 14): an agent starts on a large file
 * while Kafka cannot be reached, so its channel fills and the file source stops where the
 * channel is full. /metrics then says exactly how far behind it is, the log says a backlog
 * began, and `sluice top --once` shows done / total for the source and the channel's fill
 * and oldest event.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../api/client.js';
import { type Family, parsePrometheusText } from '../../api/prometheus.js';
import { formatBytes } from '../../bin/status.js';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { sluice, start, stopAll, waitForLog, writeFile } from './harness.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('cli-top-backlog');
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

const LINES = 20_000;
const line = (i: number) => `line ${i} ${'x'.repeat(i % 40)}\n`;

function value(families: Map<string, Family>, name: string, component: string): number | undefined {
  return families.get(name)?.samples.find((s) => s.name === name && s.labels.component === component)?.value;
}

describe('a file source behind a full channel', () => {
  it('is exactly as far behind as the channel could not take; top shows the backlog and the full channel', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const text = Array.from({ length: LINES }, (_, i) => line(i)).join('');
    writeFileSync(join(logs, 'app.log'), text);
    const size = Buffer.byteLength(text);
    // Ten puts of 100 lines fill a channel of 1000 events; the eleventh waits.
    const inChannel = Buffer.byteLength(Array.from({ length: 1000 }, (_, i) => line(i)).join(''));
    const config = writeFile(
      tmp.dir,
      'agent.yaml',
      [
        `data_dir: ${join(tmp.dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${join(logs, '*.log')}"], progress_after: 64KiB, batch: { max_events: 100 } }`,
        'channel: { type: memory, max_events: 1000 }',
        // Nothing listens on port 1: every send fails and is retried, nothing leaves the channel.
        'bus: { type: kafka, brokers: ["127.0.0.1:1"], topic: logs }',
        'api: { address: "127.0.0.1:0" }',
        '',
      ].join('\n'),
    );
    const agent = start(['agent', '-c', config]);
    const url = new URL((await waitForLog(agent, 'api listening')).url as string);
    let families = new Map<string, Family>();
    await waitFor(
      'the channel to be full',
      async () => {
        families = parsePrometheusText((await call({ url }, '/metrics')).body);
        return value(families, 'sluice_channel_full', 'channel') === 1;
      },
      60_000,
    );
    expect(value(families, 'sluice_channel_buffered_events', 'channel')).toBe(1000);
    expect(value(families, 'sluice_channel_fill_ratio', 'channel')).toBe(1);
    expect(value(families, 'sluice_file_source_lag_bytes', 'app')).toBe(size - inChannel);
    expect(value(families, 'sluice_file_source_backlog_total_bytes', 'app')).toBe(size);
    expect(value(families, 'sluice_file_source_backlog_done_bytes', 'app')).toBe(inChannel);
    expect(agent.logs().find((l) => l.msg === 'backlog to read')).toMatchObject({ component: 'sources.app', total_bytes: size, files: 1 });
    expect(agent.logs().some((l) => l.msg === 'backlog read; caught up')).toBe(false);
    // The oldest event waits from the first put on; any scrape after it sees it older.
    await waitFor('the oldest event to age', async () => {
      const again = parsePrometheusText((await call({ url }, '/metrics')).body);
      return (value(again, 'sluice_channel_oldest_event_age_seconds', 'channel') ?? 0) > 0;
    });

    const top = sluice(['top', '--once', '--interval', '200ms', '--api', url.origin]);
    expect(top.stderr).toBe('');
    expect(top.code).toBe(0);
    const rows = top.stdout.trimEnd().split('\n');
    const progress = `${formatBytes(inChannel)} / ${formatBytes(size)} (${Math.floor((100 * inChannel) / size)}%)`;
    expect(rows.find((r) => r.startsWith('sources.app'))).toMatch(new RegExp(` backlog ${literal(progress)}, 1 open files$`));
    expect(rows.find((r) => r.startsWith('channel'))).toMatch(/ FULL: sources paused, fill 100\.0%, oldest (\d+ms|\d+\.\ds), buff/);
    // Nothing moves while Kafka is away: no rate, no time left.
    expect(rows.at(-1)).toBe(`backlog sources.app: ${progress}, 0 B/s, not moving`);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });
});

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

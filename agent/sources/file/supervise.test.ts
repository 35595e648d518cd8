import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, expect, test } from 'vitest';
import { metrics } from '../../../core/metrics.js';
import type { ComponentContext } from '../../../core/pipeline.js';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import type { DecoderOutput, FileFormat, LineDecoder } from './format.js';
import { fileSourceOptions } from './options.js';
import { FileSource } from './source.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';

/** The source's long-running loop survives what it did not expect, and a checkpoint file it cannot write. */
const sources = sourcesUnderTest('file-supervise');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

const lines = (from: number, to: number): string => `${Array.from({ length: to - from }, (_, k) => `line ${from + k}`).join('\n')}\n`;
const want = (n: number): string[] => Array.from({ length: n }, (_, i) => `line ${i}`);

async function counter(name: string, component: string): Promise<number> {
  return (await metrics.getSingleMetric(name)?.get())?.values.find((v) => v.labels.component === component)?.value ?? 0;
}

test('a checkpoint file that cannot be written (full disk) is logged as an outage; tailing goes on', async () => {
  const log = join(dir, 'a.log');
  writeFileSync(log, lines(0, 10));
  const cap = captureLogger();
  const ch = new RecordingChannel();
  await sources.start({ include: [log] }, ch, 'cp', cap.logger);
  await waitFor('10 events', () => ch.events.length === 10);
  // A directory where the file goes: the atomic replace (rename over it) fails, as on a full disk.
  const file = join(dir, 'cp', 'checkpoint.json');
  rmSync(file, { force: true });
  mkdirSync(join(file, 'blocker'), { recursive: true });
  appendFileSync(log, lines(10, 20));
  await waitFor('"checkpoint file down"', () => cap.lines.some((l) => l.msg === 'checkpoint file down'));
  appendFileSync(log, lines(20, 30));
  await waitFor('30 events', () => ch.events.length === 30);
  expect(ch.messages()).toEqual(want(30));
  expect(cap.lines.filter((l) => l.msg === 'checkpoint file down')).toHaveLength(1);
  expect(cap.lines.find((l) => l.msg === 'checkpoint file down')).toMatchObject({ level: 40, path: file });

  rmSync(file, { recursive: true });
  appendFileSync(log, lines(30, 31));
  await waitFor('"checkpoint file back"', () => cap.lines.some((l) => l.msg === 'checkpoint file back'));
  await waitFor(
    'the checkpoint file written',
    () => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).state.files[0].pos === Buffer.byteLength(lines(0, 31)),
  );
  expect(cap.lines.some((l) => l.msg === 'file source failed; restarting from the last durable position')).toBe(false);
});

/** A line format whose decoder fails once on a given line: an unexpected error inside the loop. */
class FlakyFormat implements FileFormat {
  readonly kind = 'flaky';
  failures = 0;

  constructor(private readonly failOn: string) {}

  async describe(): Promise<{ service: string; module: string; fields: Record<string, string> }> {
    return { service: 'svc', module: 'mod', fields: {} };
  }

  decoder(out: DecoderOutput): LineDecoder {
    return {
      line: (buf, start, end, offset, next) => {
        const message = buf.toString('utf8', start, end);
        if (message === this.failOn && this.failures++ === 0) throw new Error('decoder bug');
        out.emit({ message, offset, next, cut: undefined });
      },
      tick: () => undefined,
      flush: () => undefined,
      deadline: () => Number.POSITIVE_INFINITY,
      heldFrom: () => Number.POSITIVE_INFINITY,
    };
  }
}

test('an unexpected error restarts the loop from the last durable position: logged, counted, every line once', async () => {
  const log = join(dir, 'a.log');
  writeFileSync(log, lines(0, 500));
  const cap = captureLogger();
  const ctx: ComponentContext = { name: 'flaky', logger: cap.logger, dataDir: join(dir, 'flaky'), host: 'h' };
  mkdirSync(ctx.dataDir);
  const format = new FlakyFormat('line 1234');
  const s = new FileSource(fileSourceOptions.parse({ include: [log], batch: { max_events: 100 }, poll_interval: '20ms' }), ctx, format);
  sources.track(s);
  const ch = new RecordingChannel();
  await s.start(ch);
  await waitFor('500 events', () => ch.events.length === 500);
  appendFileSync(log, lines(500, 2000));
  await waitFor('2000 events after the restart', () => ch.events.length >= 2000, 30_000);
  expect(format.failures).toBeGreaterThanOrEqual(2);
  expect(new Set(ch.events.map((e) => e.id)).size).toBe(ch.events.length);
  expect(ch.messages()).toEqual(want(2000));
  const restart = cap.lines.filter((l) => l.msg === 'file source failed; restarting from the last durable position');
  expect(restart).toHaveLength(1);
  expect(restart[0]).toMatchObject({ level: 50, restarts: 1, err: { message: 'decoder bug' } });
  expect(await counter('sluice_file_source_restarts_total', 'flaky')).toBe(1);
});

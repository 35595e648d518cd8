import { appendFileSync, existsSync, fstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, onTestFinished, test, vi } from 'vitest';
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
    () =>
      existsSync(file) &&
      Object.values(JSON.parse(readFileSync(file, 'utf8')).state.files as Record<string, { pos: number }>)[0]?.pos ===
        Buffer.byteLength(lines(0, 31)),
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

/**
 * A bad block under one file (EIO): every read and fstat of that file's inode fails while
 * `failing` is set; other files read as usual. What a follower sees of the disk is the
 * same through every descriptor, so the spy is on the descriptors' prototype.
 */
async function badBlocks(path: string): Promise<{ failing: boolean }> {
  const bad = { failing: false };
  const { ino } = statSync(path);
  const fh = await open(path, 'r');
  const proto = Object.getPrototypeOf(fh) as FileHandle;
  await fh.close();
  const eio = (syscall: string) => Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', errno: -5, syscall });
  const hits = (h: FileHandle) => bad.failing && fstatSync(h.fd).ino === ino;
  for (const method of ['read', 'stat'] as const) {
    const original = proto[method] as (this: FileHandle, ...args: unknown[]) => Promise<unknown>;
    const spy = vi.spyOn(proto, method).mockImplementation(async function (this: FileHandle, ...args: unknown[]) {
      if (hits(this)) throw eio(method === 'read' ? 'read' : 'fstat');
      return original.apply(this, args);
    } as never);
    onTestFinished(() => spy.mockRestore());
  }
  return bad;
}

describe('one file that cannot be read holds up no other', () => {
  const tagged = (name: string, from: number, to: number): string =>
    `${Array.from({ length: to - from }, (_, k) => `${name} ${from + k}`).join('\n')}\n`;
  const all = (names: string[], to: number): string[] => names.flatMap((n) => Array.from({ length: to }, (_, i) => `${n} ${i}`));
  const failed = (cap: ReturnType<typeof captureLogger>, path: string) =>
    cap.lines.filter((l) => l.msg === 'cannot read file; trying it again later' && l.path === path);

  function expectOnce(ch: RecordingChannel, want: string[]): void {
    expect(new Set(ch.events.map((e) => e.id)).size, 'duplicate event ids').toBe(ch.events.length);
    expect(ch.messages().sort()).toEqual([...want].sort());
  }

  test('failing when the source starts: start() resolves, the others are read; the file is read once it can be', async () => {
    const paths = ['a', 'b', 'c'].map((n) => join(dir, `${n}.log`));
    for (const [i, p] of paths.entries()) writeFileSync(p, tagged('abc'[i]!, 0, 100));
    const bad = await badBlocks(paths[1]!);
    bad.failing = true;
    const cap = captureLogger();
    const ch = new RecordingChannel();
    await sources.start({ include: [join(dir, '*.log')] }, ch, 'eio-start', cap.logger);
    await waitFor('the other two files', () => ch.events.length === 200, 5000);
    expectOnce(ch, all(['a', 'c'], 100));
    expect(failed(cap, paths[1]!)[0]).toMatchObject({ level: 40, err: { code: 'EIO' } });
    expect(await counter('sluice_file_source_file_errors_total', 'eio-start')).toBeGreaterThanOrEqual(1);

    bad.failing = false;
    await waitFor('the failing file too', () => ch.events.length >= 300);
    appendFileSync(paths[1]!, tagged('b', 100, 110));
    await waitFor('more of it', () => ch.events.length >= 310);
    expectOnce(ch, [...all(['a', 'b', 'c'], 100), ...all(['b'], 110).slice(100)]);
    expect(cap.lines.some((l) => l.msg === 'file can be read again' && l.path === paths[1])).toBe(true);
    expect(cap.lines.some((l) => l.msg === 'file source failed; restarting from the last durable position')).toBe(false);
  });

  test('a checkpointed file failing at start keeps its position in every checkpoint until it can be read, across a restart', async () => {
    const paths = ['a', 'b', 'c'].map((n) => join(dir, `${n}.log`));
    for (const [i, p] of paths.entries()) writeFileSync(p, tagged('abc'[i]!, 0, 100));
    const ch = new RecordingChannel();
    const first = await sources.start({ include: [join(dir, '*.log')] }, ch, 'eio-cp');
    await waitFor('300 events', () => ch.events.length === 300);
    await sources.stop(first);
    for (const [i, p] of paths.entries()) appendFileSync(p, tagged('abc'[i]!, 100, 200));
    const bad = await badBlocks(paths[1]!);
    bad.failing = true;
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    const second = await sources.start({ include: [join(dir, '*.log')] }, ch2, 'eio-cp');
    await waitFor('the other two files', () => ch2.events.length === 200, 5000);
    const files = Object.values((ch2.lastCheckpoint()!.state as { files: Record<string, { path: string; pos: number }> }).files);
    expect(files.find((f) => f.path === paths[1])).toMatchObject({ pos: Buffer.byteLength(tagged('b', 0, 100)) });
    await sources.stop(second);

    bad.failing = false;
    const ch3 = new RecordingChannel(ch2.lastCheckpoint());
    await sources.start({ include: [join(dir, '*.log')] }, ch3, 'eio-cp');
    await waitFor('the rest of it', () => ch3.messages().includes('b 199'));
    const got = new RecordingChannel();
    got.events.push(...ch.events, ...ch2.events, ...ch3.events);
    expectOnce(got, all(['a', 'b', 'c'], 200));
  });

  test('failing while followed: the others go on, its position is kept; it is retried with backoff and read on once it can be', async () => {
    const paths = ['a', 'b', 'c'].map((n) => join(dir, `${n}.log`));
    for (const [i, p] of paths.entries()) writeFileSync(p, tagged('abc'[i]!, 0, 100));
    const bad = await badBlocks(paths[1]!);
    const cap = captureLogger();
    const ch = new RecordingChannel();
    await sources.start({ include: [join(dir, '*.log')] }, ch, 'eio-run', cap.logger);
    await waitFor('300 events', () => ch.events.length === 300);
    bad.failing = true;
    for (const [i, p] of paths.entries()) appendFileSync(p, tagged('abc'[i]!, 100, 200));
    await waitFor('the others read on', () => ch.events.length === 500, 5000);
    expectOnce(ch, [...all(['a', 'b', 'c'], 100), ...all(['a', 'c'], 200).filter((m) => Number(m.split(' ')[1]) >= 100)]);
    await waitFor('a second try, later', () => failed(cap, paths[1]!).length >= 2, 5000);
    const [first, second] = failed(cap, paths[1]!);
    expect(first).toMatchObject({ level: 40, offset: Buffer.byteLength(tagged('b', 0, 100)), err: { code: 'EIO' }, failures: 1 });
    expect(second).toMatchObject({ offset: first!.offset, failures: 2 });
    expect((second!.time as number) - (first!.time as number)).toBeGreaterThanOrEqual(400);

    bad.failing = false;
    await waitFor('the failing file too', () => ch.events.length >= 600);
    expectOnce(ch, all(['a', 'b', 'c'], 200));
    expect(cap.lines.some((l) => l.msg === 'file can be read again' && l.path === paths[1])).toBe(true);
    expect(cap.lines.some((l) => l.msg === 'file source failed; restarting from the last durable position')).toBe(false);
    expect(await counter('sluice_file_source_restarts_total', 'eio-run')).toBe(0);
  });
});

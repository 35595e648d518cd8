import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir, waitFor } from '../../../test/support/index.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeSource, RecordingChannel } from './testing.js';

/**
 * Tests with real processes: the source killed with SIGKILL mid-file and restarted, and
 * multiline joining of stack traces printed by real java, python and node programs.
 */
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const dist = join(root, 'dist');

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  // The child runs the compiled source (Node 20 cannot run .ts). The unit project's global
  // setup builds dist; build here only when dist is older than this folder's sources.
  const built = join(dist, 'agent/sources/file/source.js');
  const newest = Math.max(
    ...readdirSync(here)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => statSync(join(here, f)).mtimeMs),
  );
  if (!existsSync(built) || statSync(built).mtimeMs < newest) {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'ignore' });
  }
  if (!existsSync(built) || statSync(built).mtimeMs < newest) throw new Error(`could not build ${built}`);
});
afterAll(async () => {
  await cleanup();
});

/**
 * The child: the file source writing into a durable harness channel — one JSONL record per
 * put holding the events and the checkpoint, fsync'd in the same write; on start it drops a
 * torn last record and recovers the checkpoint from the file, merging the patches in order
 * as a channel does.
 */
const CHILD = (d: string) => `
import fs from 'node:fs';
import { FileSource } from ${JSON.stringify(pathToFileURL(join(d, 'agent/sources/file/source.js')).href)};
import { fileSourceOptions } from ${JSON.stringify(pathToFileURL(join(d, 'agent/sources/file/options.js')).href)};
import { silentLogger } from ${JSON.stringify(pathToFileURL(join(d, 'core/log.js')).href)};
import { applyCheckpoint } from ${JSON.stringify(pathToFileURL(join(d, 'core/checkpoint-patch.js')).href)};
const [out, include, dataDir, putPause] = process.argv.slice(2);
// A pause per put keeps a read of the whole file slower than the parent's polls, so a kill
// after the first progress lands mid-file however loaded the machine is.
const pause = Number(putPause ?? 0);
let last;
if (fs.existsSync(out)) {
  const buf = fs.readFileSync(out);
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(10, pos);
    if (nl === -1) break;
    const { cp } = JSON.parse(buf.toString('utf8', pos, nl));
    if (cp) last = applyCheckpoint(last, cp);
    pos = nl + 1;
  }
  fs.truncateSync(out, pos);
}
const fd = fs.openSync(out, 'a');
const channel = {
  async put(events, cp) {
    fs.writeSync(fd, JSON.stringify({ events: events.map((e) => ({ id: e.id, m: e.message })), cp }) + '\\n');
    fs.fsyncSync(fd);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  },
  lastCheckpoint: () => last,
};
const source = new FileSource(
  fileSourceOptions.parse({ include: [include], batch: { max_events: 200 }, poll_interval: '20ms', checkpoint_interval: '100ms' }),
  { name: 'tail', logger: silentLogger(), dataDir, host: 'h' },
);
await source.start(channel);
process.send?.('started');
`;

function records(out: string): { events: { id: string; m: string }[] }[] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a torn last record: the restarted child drops it
      }
    });
}

const count = (out: string): number => records(out).reduce((n, r) => n + r.events.length, 0);

async function kill(p: ChildProcess): Promise<void> {
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
}

describe('SIGKILL mid-file', () => {
  test('killed twice while reading and restarted: every line exactly once', async () => {
    const log = join(dir, 'kill.log');
    const out = join(dir, 'out.jsonl');
    const child = join(dir, 'child.mjs');
    await writeFile(child, CHILD(dist));
    const line = (i: number) => `kill-test line ${i} ${'k'.repeat(i % 90)}`;
    const write = (from: number, to: number) =>
      appendFile(log, `${Array.from({ length: to - from }, (_, k) => line(from + k)).join('\n')}\n`);
    await write(0, 100_000);
    const run = (pause = 0): ChildProcess =>
      spawn(process.execPath, [child, out, log, dir, String(pause)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });

    let p = run(5);
    await waitFor('first progress', () => count(out) >= 10_000);
    await kill(p);
    const afterFirst = count(out);
    expect(afterFirst).toBeLessThan(100_000);
    await write(100_000, 120_000); // grows while nobody reads it

    p = run(5);
    await waitFor('second progress', () => count(out) >= afterFirst + 10_000);
    await kill(p);

    p = run();
    await waitFor('all lines', () => count(out) >= 120_000, 60_000);
    await write(120_000, 120_010);
    await waitFor('lines written after the restarts', () => count(out) >= 120_010);
    await kill(p);

    const events = records(out).flatMap((r) => r.events);
    expect(events.length).toBe(120_010);
    expect(new Set(events.map((e) => e.id)).size).toBe(120_010);
    expect(events.map((e) => e.m)).toEqual(Array.from({ length: 120_010 }, (_, i) => line(i)));
  });
});

describe('SIGKILL while files rotate', () => {
  test('killed, the file renamed outside the globs while down, written on, a new file created: every line exactly once', async () => {
    const rot = join(dir, 'rot');
    const state = join(dir, 'rot-state');
    mkdirSync(rot);
    mkdirSync(state);
    const log = join(rot, 'app.log');
    const out = join(dir, 'rot-out.jsonl');
    const child = join(dir, 'child.mjs');
    await writeFile(child, CHILD(dist));
    const line = (i: number) => `rotation line ${i} ${'r'.repeat(i % 70)}`;
    const write = (path: string, from: number, to: number) =>
      appendFile(path, `${Array.from({ length: to - from }, (_, k) => line(from + k)).join('\n')}\n`);
    await write(log, 0, 50_000);
    const run = (pause = 0): ChildProcess =>
      spawn(process.execPath, [child, out, join(rot, '*.log'), state, String(pause)], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });

    let p = run(5);
    await waitFor('first progress', () => count(out) >= 10_000);
    await kill(p);
    expect(count(out)).toBeLessThan(50_000);

    renameSync(log, `${log}.1`); // as logrotate does; the service writes on to it until it reopens
    await write(`${log}.1`, 50_000, 60_000);
    await write(log, 60_000, 70_000);
    p = run();
    await waitFor('all lines', () => count(out) >= 70_000, 60_000);
    await write(log, 70_000, 70_010);
    await waitFor('lines written after the restart', () => count(out) >= 70_010);
    await kill(p);

    const events = records(out).flatMap((r) => r.events);
    expect(events.length).toBe(70_010);
    expect(new Set(events.map((e) => e.id)).size).toBe(70_010);
    expect(events.map((e) => e.m).sort()).toEqual(Array.from({ length: 70_010 }, (_, i) => line(i)).sort());
  });
});

const hasJava = spawnSync('java', ['-version']).status === 0;

describe('multiline on real stack traces', () => {
  async function runProgram(cmd: string, args: string[], file: string, source: string): Promise<string> {
    await writeFile(join(dir, file), source);
    const r = spawnSync(cmd, [...args, join(dir, file)], { cwd: dir, encoding: 'utf8' });
    return r.stdout;
  }

  async function tail(text: string, name: string, multiline: object): Promise<string[]> {
    const log = join(dir, `${name}.log`);
    await writeFile(log, text);
    const ch = new RecordingChannel();
    const s = makeSource({ include: [log], multiline: { flush_timeout: '100ms', ...multiline } }, dir, name);
    await s.start(ch);
    try {
      const lines = text.split('\n').length - 1;
      // Every byte of the file is covered once the last event is out.
      await waitFor('the last event', () => ch.events.at(-1)?.message.endsWith('INFO done') === true);
      expect(ch.events.reduce((n, e) => n + e.message.split('\n').length, 0)).toBe(lines);
      return ch.messages();
    } finally {
      await s.stop();
    }
  }

  /** Splits the program's output at its log lines: [starting, ERROR line, the trace, done]. */
  function parts(text: string): string[] {
    const lines = text.trimEnd().split('\n');
    const err = lines.findIndex((l) => l.includes('ERROR request failed'));
    return [lines[0]!, lines[err]!, lines.slice(err + 1, -1).join('\n'), lines.at(-1)!];
  }

  test.skipIf(!hasJava)('java: nested exception with Caused by and "... n more" is one event', async () => {
    const text = await runProgram(
      'java',
      [],
      'Trace.java',
      `public class Trace {
  static void inner() { throw new IllegalStateException("inner failure"); }
  static void middle() { try { inner(); } catch (Exception e) { throw new RuntimeException("middle wrapper", e); } }
  static void outer() { try { middle(); } catch (Exception e) { throw new IllegalArgumentException("outer wrapper", e); } }
  public static void main(String[] args) {
    System.out.println("2024-01-01 00:00:00 INFO starting");
    try { outer(); } catch (Exception e) {
      System.out.println("2024-01-01 00:00:01 ERROR request failed");
      e.printStackTrace(System.out);
    }
    System.out.println("2024-01-01 00:00:02 INFO done");
  }
}
`,
    );
    const [start, error, trace, done] = parts(text);
    expect(trace).toMatch(/Caused by: java\.lang\.IllegalStateException: inner failure[\s\S]*\.\.\. \d+ more/);
    expect(await tail(text, 'java', { preset: 'java' })).toEqual([start, error, trace, done]);
  });

  test('python: chained tracebacks (cause and context) join the log line that reported them', async () => {
    const text = await runProgram(
      'python3',
      [],
      'trace.py',
      `import sys, traceback
print("2024-01-01 00:00:00 INFO starting")
def inner():
    raise ValueError("inner failure")
def middle():
    try:
        inner()
    except ValueError as e:
        raise RuntimeError("middle wrapper") from e
def outer():
    try:
        middle()
    except RuntimeError:
        raise KeyError("outer during handling")
try:
    outer()
except Exception:
    print("2024-01-01 00:00:01 ERROR request failed")
    traceback.print_exc(file=sys.stdout)
print("2024-01-01 00:00:02 INFO done")
`,
    );
    const [start, error, trace, done] = parts(text);
    expect(trace).toContain('The above exception was the direct cause of the following exception:');
    expect(trace).toContain('During handling of the above exception, another exception occurred:');
    expect(await tail(text, 'python', { preset: 'python' })).toEqual([start, `${error}\n${trace}`, done]);
  });

  test('node: an error with a cause, printed by console.log, joined by a start pattern', async () => {
    const text = await runProgram(
      process.execPath,
      [],
      'trace.cjs',
      `console.log('2024-01-01 00:00:00 INFO starting');
function inner() { throw new TypeError('inner failure'); }
function middle() { try { inner(); } catch (e) { throw new Error('middle wrapper', { cause: e }); } }
try { middle(); } catch (e) {
  console.log('2024-01-01 00:00:01 ERROR request failed');
  console.log(e);
}
console.log('2024-01-01 00:00:02 INFO done');
`,
    );
    const [start, error, trace, done] = parts(text);
    expect(trace).toContain('[cause]: TypeError: inner failure');
    expect(await tail(text, 'node', { start: '^\\d{4}-\\d{2}-\\d{2} ' })).toEqual([start, `${error}\n${trace}`, done]);
  });

  test('go preset and max_lines: a panic with its goroutine dump is one event; long traces are cut at max_lines', async () => {
    const panic = [
      'panic: runtime error: index out of range [5] with length 3',
      '',
      'goroutine 1 [running]:',
      'main.lookup(...)',
      '\t/src/app/main.go:12',
      'main.main()',
      '\t/src/app/main.go:7 +0x1d',
      'exit status 2',
    ].join('\n');
    const text = `2024-01-01 00:00:00 INFO starting\n${panic}\n2024-01-01 00:00:02 INFO done\n`;
    expect(await tail(text, 'go', { preset: 'go' })).toEqual(['2024-01-01 00:00:00 INFO starting', panic, '2024-01-01 00:00:02 INFO done']);
    const cut = await tail(text, 'go-max', { preset: 'go', max_lines: 4 });
    expect(cut).toEqual([
      '2024-01-01 00:00:00 INFO starting',
      panic.split('\n').slice(0, 4).join('\n'),
      panic.split('\n').slice(4).join('\n'),
      '2024-01-01 00:00:02 INFO done',
    ]);
  });
});

/**
 * What tests share: polling, temporary directories, events, captured logs, reading a tree
 * back and a bus consumer to drive by hand. One copy here, so a fix to any of them reaches
 * every test.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import type { AckableBatch, BusConsumer } from '../../core/pipeline.js';

/**
 * Polls `cond` until it holds; fails naming `what` after `timeoutMs` (no fixed sleeps in
 * tests). `describe` adds the state seen at the deadline to the error.
 */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  describe?: () => string | Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${await describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

export interface TempDir {
  dir: string;
  cleanup: () => Promise<void>;
}

/** A fresh directory under the system's temp dir; `cleanup` removes it with everything in it. */
export async function tempDir(prefix = 'test'): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A valid event with test defaults; override what the test is about. */
export function makeEvent(over: Partial<LogEvent> = {}): LogEvent {
  return {
    id: 'e1',
    timestamp: Date.UTC(2024, 0, 1, 12),
    message: 'hello',
    service: 'svc',
    module: 'mod',
    host: 'test-host',
    source: { kind: 'test' },
    fields: {},
    ...over,
  };
}

/** `n` events with ids `${prefix}${i}`, messages `line ${i}`, one millisecond apart. */
export function makeEvents(n: number, over: Partial<LogEvent> = {}, prefix = 'e'): LogEvent[] {
  const base = over.timestamp ?? Date.UTC(2024, 0, 1, 12);
  return Array.from({ length: n }, (_, i) => makeEvent({ ...over, id: `${prefix}${i}`, message: `line ${i}`, timestamp: base + i }));
}

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
}

/** A debug-level logger whose lines are kept as parsed JSON, for asserting what was logged. */
export function captureLogger(): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

export interface TreeLine {
  /** The file's path under the root. */
  file: string;
  line: string;
}

/**
 * The lines of every file under `root` (recursively; none while it does not exist), but the
 * paths `skip` names. Whole lines only: one a sink is still writing has no newline yet.
 */
export function linesUnder(root: string, skip: (path: string) => boolean = () => false): TreeLine[] {
  const out: TreeLine[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (skip(path)) continue;
      if (e.isDirectory()) walk(path);
      else
        for (const line of readFileSync(path, 'utf8').split('\n').slice(0, -1))
          if (line.length > 0) out.push({ file: path.slice(root.length + 1), line });
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** A bus consumer the test drives: the collector's side of the bus without a broker. */
export class HandConsumer implements BusConsumer {
  private deliver!: (b: AckableBatch) => Promise<void>;
  async start(deliver: (b: AckableBatch) => Promise<void>): Promise<void> {
    this.deliver = deliver;
  }
  async stop(): Promise<void> {}
  /** Delivers one batch; resolves once the collector is done with it, with whether it was acked. */
  async send(events: LogEvent[]): Promise<boolean> {
    let acked = false;
    await this.deliver({ events, ack: async () => void (acked = true) });
    return acked;
  }
}

/** Each number of `want` seen exactly once, and nothing else. */
export function expectEachOnce(seen: number[], want: number[]): void {
  const counts = new Map<number, number>();
  for (const n of seen) counts.set(n, (counts.get(n) ?? 0) + 1);
  expect(
    [...counts.entries()].filter(([, k]) => k !== 1),
    'numbers seen more than once',
  ).toEqual([]);
  expect([...counts.keys()].sort((a, b) => a - b)).toEqual([...want].sort((a, b) => a - b));
}

/** A time's wall-clock parts in a zone, zero-padded, as ICU gives them: the reference zoned formatting is tested against. */
export interface WallClockParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

export function wallClock(timeZone: string): (ms: number) => WallClockParts {
  // biome-ignore lint/plugin: ICU is the reference here, in tests only
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return (ms) => Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value])) as unknown as WallClockParts;
}

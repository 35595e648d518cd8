/**
 * What tests share: polling, temporary directories, events and captured logs. One copy
 * here, so a fix to any of them reaches every test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';

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

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';

/**
 * Support for the channel tests and benchmark: deterministic events, a seeded random
 * source (a failing seed replays exactly) and a logger whose lines a test can inspect.
 */

const WORDS = [
  'GET',
  'POST',
  '/api/v1/orders',
  'user=alice',
  'status=200',
  'latency=12ms',
  'é',
  '日本',
  '"quoted"',
  'tab\there',
  'line\nbreak',
  '\\back',
];

/** Event number `n`: every field derives from n, so a test can rebuild what it expects. */
export function makeEvent(n: number, messageBytes = 0): LogEvent {
  let message = `event ${n}`;
  for (let i = 0; message.length < messageBytes || i < n % 5; i++) message += ` ${WORDS[(n + i) % WORDS.length]}`;
  return {
    id: `id-${n}`,
    timestamp: 1_700_000_000_000 + n,
    message,
    service: 'shop',
    module: n % 2 ? 'api' : 'worker',
    host: 'host-1',
    source: { kind: 'file', path: '/var/log/app.log', fileId: 'dev1-ino2', offset: n * 100 },
    fields: n % 3 === 0 ? { n, tags: ['a', 'b'], nested: { ok: true, none: null } } : {},
  };
}

export function eventNumber(e: LogEvent): number {
  return Number(e.id.slice(3));
}

/** mulberry32: small, fast, good enough to drive operation sequences. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
}

export function captureLogger(): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `sluice-${prefix}-`));
}

/** Polls `cond` until it holds; fails with `what` after the deadline (no fixed sleeps in tests). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

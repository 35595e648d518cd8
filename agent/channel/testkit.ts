import type { LogEvent } from '../../core/event.js';

/**
 * Support for the channel tests, the crash test's child process and the benchmark (which
 * run from dist/, where test/support is not built): deterministic events numbered so a
 * test can rebuild what it expects, and a seeded random source (a failing seed replays
 * exactly). Everything else tests share is in test/support.
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

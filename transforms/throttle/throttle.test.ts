import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { captureLogger, makeEvent } from '../../test/support/index.js';
import { ThrottleTransform, throttleOptions } from './throttle.js';

/** Feeds `perSecond` events per key for `seconds`, in batches every 100 ms of a fake clock; returns kept counts per key. */
function drive(t: ThrottleTransform, clock: { now: number }, keys: Record<string, number>, seconds: number, extra: Partial<LogEvent> = {}) {
  const kept: Record<string, number> = {};
  for (let tick = 0; tick < seconds * 10; tick++) {
    clock.now += 100;
    const batch: LogEvent[] = [];
    for (const [service, perSecond] of Object.entries(keys))
      for (let i = 0; i < perSecond / 10; i++) batch.push(makeEvent({ id: `${service}-${tick}-${i}`, service, ...extra }));
    for (const e of t.apply(batch)) kept[e.service] = (kept[e.service] ?? 0) + 1;
  }
  return kept;
}

describe('throttle', () => {
  it('lets each key through at its budget under a measured rate, whatever the others do', () => {
    const clock = { now: 1_000_000 };
    const t = new ThrottleTransform('th', throttleOptions.parse({ threshold: 50, window: '1s' }), undefined, () => clock.now);
    // noisy sends 1000/s for 10 s, quiet 20/s: noisy gets the 50 of its first window plus 50/s after it.
    const kept = drive(t, clock, { noisy: 1000, quiet: 20 }, 10);
    expect(kept).toEqual({ noisy: 50 + 50 * 10 - 5, quiet: 200 });
  });

  it('refills after a quiet spell up to one window, not more', () => {
    const clock = { now: 0 };
    const t = new ThrottleTransform('th', throttleOptions.parse({ threshold: 10, window: '1s' }), undefined, () => clock.now);
    const burst = () => t.apply(Array.from({ length: 100 }, (_, i) => makeEvent({ id: String(i) }))).length;
    expect(burst()).toBe(10);
    clock.now += 500;
    expect(burst()).toBe(5);
    clock.now += 60_000;
    expect(burst()).toBe(10);
  });

  it('never throttles excluded events, keys by template, and logs once a minute per key', () => {
    const clock = { now: 0 };
    const { logger, lines } = captureLogger();
    const t = new ThrottleTransform(
      'th',
      throttleOptions.parse({ threshold: 1, window: '1m', key: '{service}/{module}', exclude: { level: 'error' } }),
      logger,
      () => clock.now,
    );
    const out = t.apply([
      makeEvent({ id: '1', module: 'a' }),
      makeEvent({ id: '2', module: 'a' }),
      makeEvent({ id: '3', module: 'b' }),
      makeEvent({ id: '4', module: 'a', level: 'error' }),
      makeEvent({ id: '5', module: 'a' }),
    ]);
    expect(out.map((e) => e.id)).toEqual(['1', '3', '4']);
    expect(lines.filter((l) => l.msg === 'throttling events')).toEqual([
      expect.objectContaining({ key: 'svc/a', threshold: 1, window_ms: 60_000, dropped: 1 }),
    ]);
  });

  it('forgets the least recently seen key beyond max_keys', () => {
    const clock = { now: 0 };
    const t = new ThrottleTransform('th', throttleOptions.parse({ threshold: 1, window: '1h', max_keys: 2 }), undefined, () => clock.now);
    const one = (service: string) => t.apply([makeEvent({ service })]).length;
    expect([one('a'), one('b'), one('a'), one('c'), one('a'), one('b')]).toEqual([1, 1, 0, 1, 0, 1]);
  });

  it('keeps a long key as its head and a hash: distinct keys stay apart, each of bounded length', () => {
    const { logger, lines } = captureLogger();
    const t = new ThrottleTransform('th', throttleOptions.parse({ threshold: 1, window: '1h', key: '{fields.user}' }), logger, () => 0);
    const user = (end: string) => makeEvent({ fields: { user: `${'u'.repeat(500_000)}${end}` } });
    expect(t.apply([user('a'), user('b'), user('a'), user('b')]).map((e) => (e.fields.user as string).at(-1))).toEqual(['a', 'b']);
    const keys = lines.filter((l) => l.msg === 'throttling events').map((l) => l.key as string);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
    for (const key of keys) expect(key).toMatch(/^u{239}#[0-9a-f]{16}$/);
  });

  it('requires a unit on window', () => {
    expect(throttleOptions.safeParse({ threshold: 5, window: 10 }).error?.issues[0]?.message).toMatch(/needs a unit/);
  });
});

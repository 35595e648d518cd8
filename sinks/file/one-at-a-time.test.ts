import { afterEach, describe, expect, it, vi } from 'vitest';
import { OneAtATime } from './one-at-a-time.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('OneAtATime.every', () => {
  it('queues one turn at a time: ticks while an operation hangs do not pile up behind it', async () => {
    vi.useFakeTimers();
    const ops = new OneAtATime();
    let release!: () => void;
    let calls = 0;
    ops.every(
      1000,
      () => {
        calls++;
        return calls === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      },
      () => undefined,
    );
    // The first turn hangs (a stuck fsync) for sixty ticks.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(1);
    release();
    await vi.advanceTimersByTimeAsync(0);
    // Nothing was queued meanwhile: the next turn is the next tick's.
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    ops.stopTimers();
  });
});

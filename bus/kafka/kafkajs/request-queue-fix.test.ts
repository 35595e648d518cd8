import RequestQueue from 'kafkajs/src/network/requestQueue/index.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import './request-queue-fix.js';

type Queue = {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  scheduleCheckPendingRequests(): void;
  checkPendingRequests(): void;
  destroy(): void;
};

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const queue = (): Queue =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 1000,
    enforceRequestTimeout: false,
    clientId: 't',
    broker: 'b',
    logger: quiet,
  }) as Queue;

describe('kafkajs request queue (its idle spin fixed)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('schedules no check with nothing pending and no throttle: an idle connection sets no timer', () => {
    const q = queue();
    // What a response does: check the pending requests, which schedules the next check.
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
    q.destroy();
  });

  it('still schedules a check while requests wait, or until a throttle ends', () => {
    const q = queue();
    q.pending.push({});
    q.scheduleCheckPendingRequests();
    expect(vi.getTimerCount()).toBe(1);
    q.destroy();
    const throttled = queue();
    throttled.throttledUntil = Date.now() + 500;
    throttled.scheduleCheckPendingRequests();
    expect(vi.getTimerCount()).toBe(1);
    throttled.destroy();
  });
});

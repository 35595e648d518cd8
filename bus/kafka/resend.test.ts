import { describe, expect, it } from 'vitest';
import { makeEvents } from '../../test/support/index.js';
import { AckedMemory } from './resend.js';

describe('AckedMemory', () => {
  it('skips the events Kafka acked when the failed send comes back', () => {
    const events = makeEvents(5);
    const memory = new AckedMemory();
    memory.failed(events, (i) => i === 0 || i === 1 || i === 3);
    expect(memory.take(events)).toEqual({ events: [events[2], events[4]], skipped: 3 });
  });

  it('covers one retry only, and skips nothing after a send that had no acks', () => {
    const events = makeEvents(3);
    const memory = new AckedMemory();
    memory.failed(events, (i) => i === 0);
    memory.take(events);
    expect(memory.take(events)).toEqual({ events, skipped: 0 });
    memory.failed(events, () => false);
    expect(memory.take(events)).toEqual({ events, skipped: 0 });
  });
});

describe('AckedMemory over several failed retries', () => {
  it('still skips what the first attempt acked when the retry fails too', () => {
    const events = makeEvents(4);
    const memory = new AckedMemory();
    memory.failed(events, (i) => i === 0);
    const retry = memory.take(events);
    expect(retry.skipped).toBe(1);
    memory.failed(retry.events, (i) => retry.events[i] === events[2]);
    expect(memory.take(events)).toEqual({ events: [events[1], events[3]], skipped: 2 });
  });
});

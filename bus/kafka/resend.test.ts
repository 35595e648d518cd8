import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { makeEvents } from '../../test/support/index.js';
import { AckedMemory } from './resend.js';

/** What the bus producers keep: events, whose transactions the forwarder rolls back from the oldest failed one on. */
const eventMemory = () => new AckedMemory<LogEvent>((e) => e.id, 'from-oldest-failed');

describe('AckedMemory', () => {
  it('skips the events Kafka acked when the failed send comes back', () => {
    const events = makeEvents(5);
    const memory = eventMemory();
    memory.failed(memory.begin(events), (i) => i === 0 || i === 1 || i === 3);
    const again = memory.begin(events);
    expect(again.items).toEqual([events[2], events[4]]);
    expect(again.skipped).toBe(3);
  });

  it('skips an event once: after the retry succeeded it is sent again if it comes again', () => {
    const events = makeEvents(3);
    const memory = eventMemory();
    memory.failed(memory.begin(events), (i) => i === 0);
    memory.succeeded(memory.begin(events));
    expect(memory.begin(events)).toMatchObject({ items: events, skipped: 0 });
  });

  it('skips nothing after a send that had no acks', () => {
    const events = makeEvents(3);
    const memory = eventMemory();
    memory.failed(memory.begin(events), () => false);
    expect(memory.begin(events)).toMatchObject({ items: events, skipped: 0 });
  });

  it('still skips what the first attempt acked when the retry fails too', () => {
    const events = makeEvents(4);
    const memory = eventMemory();
    memory.failed(memory.begin(events), (i) => i === 0);
    const retry = memory.begin(events);
    expect(retry.skipped).toBe(1);
    memory.failed(retry, (i) => retry.items[i] === events[2]);
    expect(memory.begin(events)).toMatchObject({ items: [events[1], events[3]], skipped: 2 });
  });

  it('takes a second report of a settled attempt as nothing new', () => {
    const events = makeEvents(2);
    const memory = eventMemory();
    const first = memory.begin(events);
    memory.succeeded(first);
    memory.failed(first, () => true);
    expect(memory.begin(events)).toMatchObject({ items: events, skipped: 0 });
  });
});

describe('AckedMemory with several sends in flight', () => {
  const batches = () => [makeEvents(3, {}, 'a'), makeEvents(3, {}, 'b'), makeEvents(3, {}, 'c')] as const;

  it('remembers every event of a later send that succeeded before an older one failed: it is rolled back too', () => {
    const [a, b, c] = batches();
    const memory = eventMemory();
    const sa = memory.begin(a);
    const sb = memory.begin(b);
    const sc = memory.begin(c);
    memory.succeeded(sc);
    memory.failed(sa, (i) => i === 1);
    memory.succeeded(sb);
    // The forwarder rolls back a, b and c; they come back in order.
    expect(memory.begin(a)).toMatchObject({ items: [a[0], a[2]], skipped: 1 });
    expect(memory.begin(b)).toMatchObject({ items: [], skipped: 3 });
    expect(memory.begin(c)).toMatchObject({ items: [], skipped: 3 });
  });

  it('forgets the sends older than the failed one: they commit', () => {
    const [a, b, c] = batches();
    const memory = eventMemory();
    const sa = memory.begin(a);
    const sb = memory.begin(b);
    const sc = memory.begin(c);
    memory.succeeded(sb);
    memory.succeeded(sa);
    memory.failed(sc, () => false);
    expect(memory.begin(a)).toMatchObject({ items: a, skipped: 0 });
    expect(memory.begin(b)).toMatchObject({ items: b, skipped: 0 });
    expect(memory.begin(c)).toMatchObject({ items: c, skipped: 0 });
  });

  it('forgets what succeeded once the round is over without a failure', () => {
    const [a, b] = batches();
    const memory = eventMemory();
    const sa = memory.begin(a);
    const sb = memory.begin(b);
    memory.succeeded(sb);
    memory.succeeded(sa);
    expect(memory.begin(b)).toMatchObject({ items: b, skipped: 0 });
  });

  it('starts each round afresh: a failure of an earlier round does not claim later sends', () => {
    const [a, b, c] = batches();
    const memory = eventMemory();
    memory.failed(memory.begin(a), () => false);
    const sb = memory.begin(b);
    const sc = memory.begin(c);
    memory.succeeded(sc);
    memory.succeeded(sb);
    expect(memory.begin(c)).toMatchObject({ items: c, skipped: 0 });
  });

  it('carries what a rolled-back retry skipped into the next attempt', () => {
    const [a, b] = batches();
    const memory = eventMemory();
    memory.failed(memory.begin(a), (i) => i === 0);
    const ra = memory.begin(a);
    const rb = memory.begin(b);
    memory.succeeded(ra);
    memory.failed(rb, (i) => i === 2);
    // a's retry commits; b comes back without what its failed attempt settled.
    expect(memory.begin(b)).toMatchObject({ items: [b[0], b[1]], skipped: 1 });
    const ra2 = memory.begin(a);
    expect(ra2.skipped).toBe(0);
  });
});

describe('AckedMemory of items that may have no id', () => {
  interface Item {
    id?: string;
    n: number;
  }
  const items = (...ids: (string | undefined)[]): Item[] => ids.map((id, n) => (id === undefined ? { n } : { id, n }));
  const writeMemory = () => new AckedMemory<Item>((r) => r.id, 'failed-only');

  it('hands the items over as they are while nothing is settled', () => {
    const all = items('a', undefined);
    const memory = writeMemory();
    const first = memory.begin(all);
    expect(first.items).toBe(all);
    expect(memory.begin(all).carried).toBe(first.carried);
  });

  it('never skips an item without an id, acked or not', () => {
    const all = items('a', undefined, 'c', undefined);
    const memory = writeMemory();
    memory.failed(memory.begin(all), () => true);
    expect(memory.begin(all)).toMatchObject({ items: [all[1], all[3]], skipped: 2 });
  });

  it('remembers a skipped id again when the write that skipped it fails', () => {
    const all = items('a', 'b', undefined);
    const memory = writeMemory();
    memory.failed(memory.begin(all), (i) => i === 0);
    const retry = memory.begin(all);
    expect(retry).toMatchObject({ items: [all[1], all[2]], skipped: 1 });
    memory.failed(retry, () => false);
    expect(memory.begin(all)).toMatchObject({ items: [all[1], all[2]], skipped: 1 });
  });

  it('brings back only the write that failed: one that succeeded meanwhile is done', () => {
    const first = items('a1', 'a2');
    const second = items('b1', 'b2');
    const memory = writeMemory();
    const wa = memory.begin(first);
    const wb = memory.begin(second);
    memory.succeeded(wb);
    memory.failed(wa, (i) => i === 1);
    expect(memory.begin(second)).toMatchObject({ items: second, skipped: 0 });
    expect(memory.begin(first)).toMatchObject({ items: [first[0]], skipped: 1 });
  });

  it('does not remember the id-less items of a later send rolled back with a failed one', () => {
    const a = items('a1', 'a2');
    const b = items('b1', undefined);
    const memory = new AckedMemory<Item>((r) => r.id, 'from-oldest-failed');
    const sa = memory.begin(a);
    const sb = memory.begin(b);
    memory.succeeded(sb);
    memory.failed(sa, () => false);
    expect(memory.begin(a)).toMatchObject({ items: a, skipped: 0 });
    expect(memory.begin(b)).toMatchObject({ items: [b[1]], skipped: 1 });
  });
});

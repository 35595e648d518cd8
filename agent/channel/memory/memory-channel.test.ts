import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { PutAbortedError } from '../../../core/pipeline.js';
import { runChannelModel } from '../channel-model.js';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import { makeEvent } from '../testkit.js';
import { memoryChannelOptions, memoryChannelSpec } from './index.js';
import { MemoryChannel } from './memory-channel.js';
import { eventBytes } from './size.js';

describe('memory channel against a model', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}`, () =>
      runChannelModel(seed, 400, {
        open: async () => {
          const c = new MemoryChannel({ maxEvents: 1_000_000, maxBytes: 1 << 30 }, 'mem-model', silentLogger());
          await c.open();
          return c;
        },
      }));
  }
});

describe('memory channel capacity', () => {
  it('makes puts wait while max_events is reached and admits them in order as commits free room', async () => {
    const { logger, lines } = captureLogger();
    const c = new MemoryChannel({ maxEvents: 10, maxBytes: 1 << 20 }, 'mem', logger);
    await c.open();
    await c.put([0, 1, 2, 3, 4, 5, 6, 7].map((n) => makeEvent(n)));
    let secondDone = false;
    let thirdDone = false;
    const second = c.put([8, 9, 10].map((n) => makeEvent(n))).then(() => (secondDone = true));
    const third = c.put([11].map((n) => makeEvent(n))).then(() => (thirdDone = true));
    await waitFor('the full log line', () => lines.some((l) => String(l.msg).startsWith('memory channel full')));
    // The one-event put would fit, but must not overtake the waiting batch.
    expect([secondDone, thirdDone]).toEqual([false, false]);
    expect(c.stats().events).toBe(8);
    const tx = await c.take(5);
    await tx.commit();
    await Promise.all([second, third]);
    expect(lines.some((l) => String(l.msg).startsWith('memory channel has room again'))).toBe(true);
    const rest = await c.take(100);
    expect(rest.events.map((e) => e.id)).toEqual([5, 6, 7, 8, 9, 10, 11].map((n) => `id-${n}`));
    await rest.commit();
    await c.close();
  });

  it("takes a waiting put back when its source's signal aborts, stores a put that fits, and lets the ones behind go", async () => {
    const c = new MemoryChannel({ maxEvents: 10, maxBytes: 1 << 20 }, 'mem-withdraw', silentLogger());
    await c.open();
    const stopped = new AbortController();
    await c.put(
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => makeEvent(n)),
      undefined,
      stopped.signal,
    );
    const waiting = c.put(
      [8, 9, 10].map((n) => makeEvent(n)),
      { source: 'app', seq: 2, state: {} },
      stopped.signal,
    );
    const other = c.put([11].map((n) => makeEvent(n)));
    stopped.abort();
    await expect(waiting).rejects.toBeInstanceOf(PutAbortedError);
    // The channel is not stopping: the put behind it is stored, the withdrawn one is not.
    await other;
    expect((await c.take(100)).events.map((e) => e.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 11].map((n) => `id-${n}`));
    expect(c.lastCheckpoint('app')).toBeUndefined();
    await c.close();
  });

  it('bounds bytes too, and rejects a batch larger than the whole capacity instead of hanging', async () => {
    const events = [1, 2, 3, 4].map((n) => makeEvent(n, 100));
    const size = eventBytes(events[0]!) + eventBytes(events[1]!) + eventBytes(events[2]!);
    const { logger, lines } = captureLogger();
    const c = new MemoryChannel({ maxEvents: 1000, maxBytes: size }, 'mem', logger);
    await c.open();
    await expect(c.put(events)).rejects.toThrow(/exceeds the channel's whole capacity/);
    await c.put(events.slice(0, 3));
    expect(c.stats()).toEqual({ events: 3, bytes: size });
    let done = false;
    const blocked = c.put(events.slice(3)).then(() => (done = true));
    await waitFor('the full log line', () => lines.some((l) => String(l.msg).startsWith('memory channel full')));
    expect(done).toBe(false);
    const tx = await c.take(2);
    await tx.commit();
    await blocked;
    expect(c.stats()).toEqual({ events: 2, bytes: eventBytes(events[2]!) + eventBytes(events[3]!) });
    await c.close();
  });

  it('take waits for data and returns an empty transaction when aborted', async () => {
    const c = new MemoryChannel({ maxEvents: 10, maxBytes: 1 << 20 }, 'mem', silentLogger());
    await c.open();
    const ac = new AbortController();
    const waiting = c.take(5, ac.signal);
    ac.abort();
    expect((await waiting).events).toEqual([]);
    const later = c.take(5);
    await expect(c.take(1)).rejects.toThrow(/a take is already waiting/);
    await c.put([makeEvent(1)]);
    const tx = await later;
    expect(tx.events).toEqual([makeEvent(1)]);
    await c.close();
    await expect(tx.commit()).rejects.toThrow(/is closed: transaction not committed/);
  });
});

describe('memory channel options', () => {
  it('accepts sizes with units and rejects unknown keys', () => {
    expect(memoryChannelOptions.parse({ max_bytes: '2MiB' })).toEqual({ max_events: 100_000, max_bytes: 2 * 1024 * 1024 });
    expect(() => memoryChannelOptions.parse({ max_event: 5 })).toThrow(/max_event/);
    expect(memoryChannelOptions.parse({ max_bytes: '4 kB' }).max_bytes).toBe(4000);
    expect(() => memoryChannelOptions.parse({ max_bytes: '1000B' })).toThrow(/must be at least 1024 bytes, got 1000/);
    expect(memoryChannelSpec).toMatchObject({ kind: 'channel', type: 'memory' });
  });
});

describe('memory channel checkpoints', () => {
  it('merges checkpoint patches in put order into whole checkpoints; a patch of a checkpoint it does not hold leaves the one held', async () => {
    const { logger, lines } = captureLogger();
    const c = new MemoryChannel({ maxEvents: 2, maxBytes: 1 << 20 }, 'mem', logger);
    await c.open();
    await c.put([makeEvent(0)], { source: 's', seq: 1, state: { files: { a: { pos: 1 }, b: { pos: 5 } }, lost: [] } });
    await c.put([makeEvent(1)], { source: 's', seq: 2, patch: true, base: 1, state: { files: { a: { pos: 2 } } } });
    // Full: this one waits, and is merged when it is admitted.
    const waiting = c.put([makeEvent(2)], { source: 's', seq: 3, patch: true, base: 2, state: { files: { b: null }, lost: [1] } });
    expect(c.lastCheckpoint('s')).toStrictEqual({ source: 's', seq: 2, state: { files: { a: { pos: 2 }, b: { pos: 5 } }, lost: [] } });
    await (await c.take(2)).commit();
    await waiting;
    expect(c.lastCheckpoint('s')).toStrictEqual({ source: 's', seq: 3, state: { files: { a: { pos: 2 } }, lost: [1] } });

    const held = c.lastCheckpoint('s');
    await c.put([], { source: 's', seq: 5, patch: true, base: 4, state: { lost: [] } });
    expect(c.lastCheckpoint('s')).toBe(held);
    expect(lines.filter((l) => String(l.msg).startsWith('checkpoint patch without'))).toMatchObject([
      { source: 's', chain: 'put', seq: 5, base: 4, held_seq: 3 },
    ]);
    await c.close();
  });
});

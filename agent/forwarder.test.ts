import { getEventListeners } from 'node:events';
import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import { metrics } from '../core/metrics.js';
import type { BusProducer } from '../core/pipeline.js';
import { fillDisk, tmpfs } from '../test/support/full-disk.js';
import { captureLogger, tempDir, waitFor } from '../test/support/index.js';
import { DiskChannel } from './channel/disk/disk-channel.js';
import { MemoryChannel } from './channel/memory/memory-channel.js';
import { eventNumber, makeEvent } from './channel/testkit.js';
import { Forwarder } from './forwarder.js';

/**
 * A bus whose sends the test settles by hand, in any order: what a pipelined forwarder
 * faces when a later batch is acked before an earlier one, or one fails while others fly.
 */
class ManualBus implements BusProducer {
  readonly sends: { ids: number[]; settle: (err?: Error) => void; settled: boolean }[] = [];
  /** Every event the bus acknowledged, in the order of the acks. */
  readonly acked: number[] = [];
  /** When set, sends settle at once: with this error, or successfully when null. */
  auto: Error | null | undefined;

  constructor(readonly maxInFlight?: number) {}

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  send(events: readonly LogEvent[]): Promise<void> {
    const ids = events.map(eventNumber);
    return new Promise<void>((resolve, reject) => {
      const entry = {
        ids,
        settled: false,
        settle: (err?: Error) => {
          entry.settled = true;
          if (err) return reject(err);
          this.acked.push(...ids);
          resolve();
        },
      };
      this.sends.push(entry);
      if (this.auto !== undefined) entry.settle(this.auto ?? undefined);
    });
  }

  outstanding(): number {
    return this.sends.filter((s) => !s.settled).length;
  }
}

const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => makeEvent(from + i));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function memory(name: string): Promise<MemoryChannel> {
  const channel = new MemoryChannel({ maxEvents: 1_000_000, maxBytes: 1 << 30 }, name, captureLogger().logger);
  await channel.open();
  return channel;
}

async function metric(name: string, component: string): Promise<number> {
  const m = await metrics.getSingleMetric(name)!.get();
  return Number(m.values.find((v) => v.labels.component === component)?.value ?? 0);
}

const running: Forwarder[] = [];
afterEach(async () => {
  for (const f of running.splice(0)) await f.stop();
});

function forwarder(channel: MemoryChannel | DiskChannel, bus: BusProducer, component: string, maxInFlight?: number) {
  const { logger, lines } = captureLogger();
  const f = new Forwarder(channel, bus, logger, { batchEvents: 100, maxInFlight, retryBackoffMaxMs: 50, component });
  running.push(f);
  f.start();
  return { f, lines };
}

describe('pipelined forwarder', () => {
  it('keeps up to max_in_flight sends out at once and commits them in take order, whatever order the acks come in', async () => {
    const channel = await memory('fw-order');
    await channel.put(batch(0, 1000));
    const bus = new ManualBus(4);
    forwarder(channel, bus, 'fw-order', 4);
    await waitFor('4 sends in flight', () => bus.outstanding() === 4);
    expect(bus.sends.map((s) => s.ids[0])).toEqual([0, 100, 200, 300]);
    // The later acks first: nothing can be committed before the oldest.
    bus.sends[2]!.settle();
    bus.sends[1]!.settle();
    await waitFor('the taker to wait for room', () => bus.outstanding() === 2);
    expect(channel.stats().events).toBe(1000);
    expect(bus.sends).toHaveLength(4);
    bus.sends[0]!.settle();
    await waitFor('three commits in order', () => channel.stats().events === 700);
    await waitFor('three more sends', () => bus.sends.length === 7);
    bus.auto = null;
    for (const s of bus.sends) if (!s.settled) s.settle();
    await waitFor('everything forwarded', () => channel.stats().events === 0);
    expect([...bus.acked].sort((a, b) => a - b)).toEqual(range(0, 1000));
    expect(await metric('sluice_forwarder_events_total', 'fw-order')).toBe(1000);
  });

  it('leaves nothing of its takes on the stop signal, which lives as long as the agent', async () => {
    const channel = await memory('fw-takes');
    await channel.put(batch(0, 5000));
    const bus = new ManualBus();
    bus.auto = null;
    const { f } = forwarder(channel, bus, 'fw-takes');
    await waitFor('everything forwarded', () => channel.stats().events === 0);
    expect(bus.sends.length).toBeGreaterThanOrEqual(50);
    // The take waiting for more events now holds one listener; the 50 before it left none.
    expect(getEventListeners(Reflect.get(f, 'stopping').signal as AbortSignal, 'abort').length).toBeLessThanOrEqual(1);
  });

  it('hands the transactions waiting for a send slot to the producer in take order', async () => {
    const channel = await memory('fw-send-order');
    await channel.put(batch(0, 1000));
    const bus = new ManualBus(2);
    forwarder(channel, bus, 'fw-send-order', 5);
    await waitFor('2 sends in flight', () => bus.outstanding() === 2);
    // Three more taken and waiting for a slot; slots free up in an order of their own.
    for (let next = 0; bus.acked.length < 1000; next++) {
      await waitFor('a send out', () => bus.outstanding() > 0);
      const out = bus.sends.filter((s) => !s.settled);
      out[next % out.length]!.settle();
    }
    await waitFor('everything committed', () => channel.stats().events === 0);
    expect(bus.sends.map((s) => s.ids[0])).toEqual(range(0, 10).map((i) => i * 100));
    expect(bus.acked.sort((a, b) => a - b)).toEqual(range(0, 1000));
  });

  it('sends one batch at a time to a producer that declares no concurrency, but commits one while the next is sent', async () => {
    const channel = await memory('fw-serial');
    await channel.put(batch(0, 300));
    const bus = new ManualBus();
    forwarder(channel, bus, 'fw-serial');
    await waitFor('the first send', () => bus.sends.length === 1);
    bus.sends[0]!.settle();
    await waitFor('the second send', () => bus.sends.length === 2);
    expect(bus.outstanding()).toBe(1);
    bus.auto = null;
    bus.sends[1]!.settle();
    await waitFor('everything forwarded', () => channel.stats().events === 0);
    expect(bus.acked).toEqual(range(0, 300));
  });

  it('on a failed send with others in flight, rolls all of them back and sends them again in order; logs the outage once', async () => {
    const channel = await memory('fw-fail');
    await channel.put(batch(0, 500));
    const bus = new ManualBus(3);
    const { lines } = forwarder(channel, bus, 'fw-fail', 3);
    await waitFor('3 sends in flight', () => bus.outstanding() === 3);
    bus.sends[1]!.settle();
    bus.sends[0]!.settle(new Error('broker gone'));
    bus.sends[2]!.settle();
    await waitFor('the retry', () => bus.sends.length > 3);
    // Resent from the first failed batch on, in order: 100 and 200 were acked but could not be committed before 0.
    expect(bus.sends[3]!.ids[0]).toBe(0);
    bus.auto = null;
    for (const s of bus.sends) if (!s.settled) s.settle();
    await waitFor('everything forwarded', () => channel.stats().events === 0);
    const acked = new Map<number, number>();
    for (const id of bus.acked) acked.set(id, (acked.get(id) ?? 0) + 1);
    expect([...acked.keys()].sort((a, b) => a - b)).toEqual(range(0, 500));
    expect(range(0, 500).filter((id) => acked.get(id) === 2)).toEqual(range(100, 300));
    expect(lines.filter((l) => l.msg === 'bus down')).toMatchObject([{ err: { message: 'broker gone' }, events: 100, in_flight: 3 }]);
    expect(lines.filter((l) => l.msg === 'bus back')).toHaveLength(1);
    expect(await metric('sluice_forwarder_send_failures_total', 'fw-fail')).toBe(1);
  });

  it('never sends a batch that was still waiting for the producer when an earlier one failed', async () => {
    const channel = await memory('fw-waiting');
    await channel.put(batch(0, 200));
    const bus = new ManualBus(1);
    forwarder(channel, bus, 'fw-waiting', 2);
    await waitFor('one send out and the next batch taken', () => bus.sends.length === 1 && channel.stats().events === 200);
    bus.auto = null;
    bus.sends[0]!.settle(new Error('timeout'));
    await waitFor('everything forwarded', () => channel.stats().events === 0);
    expect(bus.acked).toEqual(range(0, 200));
    expect(bus.sends.map((s) => s.ids[0])).toEqual([0, 0, 100]);
  });

  it('on stop, takes nothing more and settles every transaction in flight', async () => {
    const channel = await memory('fw-stop');
    await channel.put(batch(0, 1000));
    const bus = new ManualBus(2);
    const f = new Forwarder(channel, bus, captureLogger().logger, { batchEvents: 100, maxInFlight: 3, component: 'fw-stop' });
    f.start();
    await waitFor('2 sends in flight', () => bus.outstanding() === 2);
    const stopped = f.stop();
    bus.auto = null;
    for (const s of bus.sends) if (!s.settled) s.settle();
    await stopped;
    // The two in flight and the third, taken while they flew, went out; nothing after.
    expect(bus.acked).toEqual(range(0, 300));
    expect(channel.stats().events).toBe(700);
    expect(f.forwarded).toBe(300);
  });
});

describe('forwarder stop with a send that never settles', () => {
  it('gives up after the grace period, leaving the transaction open: the channel delivers its events again after reopening', async () => {
    const { dir, cleanup } = await tempDir('fw-grace');
    const config = {
      path: dir,
      maxBytes: 1 << 24,
      segmentBytes: 1 << 20,
      fsync: 'always' as const,
      commitFsync: 'always' as const,
      readCacheBytes: 0,
      retryBackoffMaxMs: 50,
    };
    const channel = new DiskChannel(config, 'fw-grace', captureLogger().logger);
    await channel.open();
    await channel.put(batch(0, 150));
    // A destination that retries on its own forever: the send is never settled.
    const bus = new ManualBus();
    const { logger, lines } = captureLogger();
    const f = new Forwarder(channel, bus, logger, { batchEvents: 100, component: 'fw-grace' });
    f.start();
    await waitFor('the send', () => bus.sends.length === 1);
    await f.stop(200);
    expect(
      lines.filter((l) => l.msg === 'sends still in flight at stop; their events stay in the channel and are sent again on the next start'),
    ).toMatchObject([{ in_flight: 2, events: 150, grace_ms: 200 }]);
    await channel.close();
    // The send settles after all: its commit is refused by the closed channel, quietly.
    bus.sends[0]!.settle();
    const reopened = new DiskChannel(config, 'fw-grace', captureLogger().logger);
    await reopened.open();
    expect((await reopened.take(1000)).events.map(eventNumber)).toEqual(range(0, 150));
    await reopened.close();
    expect(lines.filter((l) => l.level === 50)).toEqual([]);
    await cleanup();
  });
});

describe('forwarder and a channel that cannot read', () => {
  it('retries a take that failed, logs the outage once, and forwards everything when the channel reads again', async () => {
    const channel = await memory('fw-take');
    await channel.put(batch(0, 250));
    let failures = 2;
    const take = channel.take.bind(channel);
    // A narrow fake: the disk channel's take fails this way when a segment read gets EIO.
    channel.take = async (max, signal) => {
      if (failures-- > 0) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      return take(max, signal);
    };
    const bus = new ManualBus();
    bus.auto = null;
    const { lines } = forwarder(channel, bus, 'fw-take');
    await waitFor('everything forwarded', () => channel.stats().events === 0);
    expect(bus.acked).toEqual(range(0, 250));
    expect(lines.filter((l) => l.msg === 'channel take down')).toMatchObject([{ err: { code: 'EIO' } }]);
    expect(lines.filter((l) => l.msg === 'channel take back')).toHaveLength(1);
    expect(await metric('sluice_forwarder_take_failures_total', 'fw-take')).toBe(2);
  });
});

describe('forwarder and a channel commit that fails (real full disk)', () => {
  const disk = tmpfs('2m');

  it('retries the commit with backoff, never sends the batch again, never stops, and logs the outage once', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const config = {
      path: join(disk.path, 'channel'),
      maxBytes: 1 << 20,
      segmentBytes: 256 * 1024,
      fsync: 'always' as const,
      commitFsync: 'always' as const,
      readCacheBytes: 0,
      retryBackoffMaxMs: 50,
    };
    const channel = new DiskChannel(config, 'fw-commit', captureLogger().logger);
    await channel.open();
    // A checkpoint bigger than a page: committing it grows the pointer copy, which needs room.
    await channel.put(batch(0, 150), { source: 'big', seq: 1, state: { pad: 'p'.repeat(16 * 1024) } });
    const filler = await fillDisk(disk.path);
    const bus = new ManualBus(2);
    bus.auto = null;
    const { f, lines } = forwarder(channel, bus, 'fw-commit', 3);
    await waitFor('commit failures', async () => (await metric('sluice_forwarder_commit_failures_total', 'fw-commit')) >= 3);
    expect(lines.filter((l) => l.msg === 'channel commit down')).toMatchObject([{ err: { code: 'ENOSPC' }, events: 100 }]);
    expect(channel.stats().events).toBe(150);
    await unlink(filler);
    await waitFor('everything committed', () => channel.stats().events === 0);
    expect(lines.filter((l) => l.msg === 'channel commit back')).toHaveLength(1);
    // Each event reached the bus once: the commit was retried, the send was not.
    expect(bus.acked).toEqual(range(0, 150));
    await f.stop();
    await channel.close();
    const reopened = new DiskChannel(config, 'fw-commit', captureLogger().logger);
    await reopened.open();
    expect(reopened.stats().events).toBe(0);
    await reopened.close();
    await rm(config.path, { recursive: true, force: true });
  });
});

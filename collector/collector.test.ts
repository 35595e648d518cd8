import { describe, expect, it, vi } from 'vitest';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { type AckableBatch, type BusConsumer, type Sink, WRITTEN, type WriteResult } from '../core/pipeline.js';
import { Collector } from './collector.js';
import type { DeadLetter, DeadLetterEntry } from '../core/dead-letter.js';
import { Router } from './router/router.js';

const ev = (id: string, service: string): LogEvent => ({
  id,
  timestamp: 0,
  message: id,
  service,
  module: 'm',
  host: 'h',
  source: { kind: 'demo' },
  fields: {},
});

class FakeConsumer implements BusConsumer {
  deliver!: (b: AckableBatch) => Promise<void>;
  async start(deliver: (b: AckableBatch) => Promise<void>) {
    this.deliver = deliver;
  }
  async stop() {}
  /** Delivers a batch; resolves with whether it was acked. */
  send(events: LogEvent[]): { acked: () => boolean; done: Promise<void> } {
    let acked = false;
    const done = this.deliver({ events, ack: async () => void (acked = true) });
    return { acked: () => acked, done };
  }
}

class MemorySink implements Sink {
  got: string[] = [];
  /** Every batch write() was called with, by ids. */
  calls: string[][] = [];
  failNext = 0;
  /** Ids refused for good, with this reason. */
  refuse = new Set<string>();
  /** Ids answered "retry" this many times before they are stored. */
  busy = new Map<string, number>();
  async open() {}
  async close() {}
  async write(batch: readonly LogEvent[]): Promise<WriteResult> {
    this.calls.push(batch.map((e) => e.id));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk full');
    }
    const refused = [];
    const retry = [];
    for (const e of batch) {
      const left = this.busy.get(e.id) ?? 0;
      if (this.refuse.has(e.id)) refused.push({ event: e, reason: `path ${e.service}/ refused: ENOTDIR` });
      else if (left > 0) {
        this.busy.set(e.id, left - 1);
        retry.push(e);
      } else this.got.push(e.id);
    }
    return refused.length || retry.length ? { refused, retry } : WRITTEN;
  }
}

class MemoryDeadLetter implements DeadLetter {
  got: DeadLetterEntry[] = [];
  async open() {}
  async close() {}
  async write(entries: readonly DeadLetterEntry[]) {
    this.got.push(...entries);
  }
}

describe('Collector', () => {
  it('routes each event to its sinks and unrouted ones to the dead-letter, then acks', async () => {
    const consumer = new FakeConsumer();
    const a = new MemorySink();
    const b = new MemorySink();
    const dl = new MemoryDeadLetter();
    const router = new Router(
      {
        rules: [
          { match: { service: 'a' }, sinks: ['a'], continue: false },
          { match: { service: 'b' }, sinks: ['b'], continue: false },
        ],
      },
      ['a', 'b'],
    );
    const collector = new Collector(
      consumer,
      [
        { name: 'a', sink: a },
        { name: 'b', sink: b },
      ],
      silentLogger(),
      { router, deadLetter: dl },
    );
    await collector.start();
    const r = consumer.send([ev('1', 'a'), ev('2', 'b'), ev('3', 'c'), ev('4', 'a')]);
    await r.done;
    expect(r.acked()).toBe(true);
    expect(a.got).toEqual(['1', '4']);
    expect(b.got).toEqual(['2']);
    expect(dl.got.map((e) => [e.event?.id, e.reason])).toEqual([['3', 'no route accepted the event (service "c", module "m")']]);
    expect(collector.written).toBe(3);
    expect(collector.unrouted).toBe(1);
    await collector.stop();
  });

  it('acks only after a failing sink finally wrote the batch', async () => {
    const consumer = new FakeConsumer();
    const a = new MemorySink();
    a.failNext = 2;
    const collector = new Collector(consumer, [{ name: 'a', sink: a }], silentLogger());
    await collector.start();
    const r = consumer.send([ev('1', 'x')]);
    await r.done;
    expect(r.acked()).toBe(true);
    expect(a.got).toEqual(['1']);
    expect(a.failNext).toBe(0);
    await collector.stop();
  });

  it('gives a batch up (unacked, to be read again) once a reload removed the sink its write keeps failing on, after the other sinks wrote it', async () => {
    const consumer = new FakeConsumer();
    const down = new MemorySink();
    down.failNext = Number.MAX_SAFE_INTEGER;
    const up = new MemorySink();
    const collector = new Collector(
      consumer,
      [
        { name: 'down', sink: down },
        { name: 'up', sink: up },
      ],
      silentLogger(),
    );
    await collector.start();
    const r = consumer.send([ev('1', 'x'), ev('2', 'x')]);
    await vi.waitFor(() => expect(down.calls.length).toBeGreaterThanOrEqual(2));
    // The reload: `down` is gone from the config; batches routed to it before still find it.
    collector.reconfigure(
      [
        { name: 'down', sink: down, retiring: true },
        { name: 'up', sink: up },
      ],
      new Router(undefined, ['up']),
    );
    await expect(r.done).rejects.toThrow('sink "down" was removed by a reload while its write was failing; the batch is read again');
    expect(r.acked()).toBe(false);
    expect(up.got).toEqual(['1', '2']);
    // Read again, the batch goes by the new routes.
    const again = consumer.send([ev('1', 'x'), ev('2', 'x')]);
    await again.done;
    expect(again.acked()).toBe(true);
    await collector.stop();
  });

  it('keeps retrying a batch on a sink removed and added again under its name: the new instance takes it', async () => {
    const consumer = new FakeConsumer();
    const old = new MemorySink();
    old.failNext = Number.MAX_SAFE_INTEGER;
    const collector = new Collector(consumer, [{ name: 'a', sink: old }], silentLogger());
    await collector.start();
    const r = consumer.send([ev('1', 'x')]);
    await vi.waitFor(() => expect(old.calls.length).toBeGreaterThanOrEqual(2));
    const fresh = new MemorySink();
    collector.reconfigure(
      [
        { name: 'a', sink: old, retiring: true },
        { name: 'a', sink: fresh },
      ],
      new Router(undefined, ['a']),
    );
    await r.done;
    expect(r.acked()).toBe(true);
    expect(fresh.got).toEqual(['1']);
    await collector.stop();
  });

  it('never acks a batch it could not write before being stopped', async () => {
    const consumer = new FakeConsumer();
    const a = new MemorySink();
    a.failNext = Number.MAX_SAFE_INTEGER;
    const collector = new Collector(consumer, [{ name: 'a', sink: a }], silentLogger());
    await collector.start();
    const r = consumer.send([ev('1', 'x')]);
    collector.interrupt();
    await expect(r.done).rejects.toThrow('stays uncommitted on the bus');
    expect(r.acked()).toBe(false);
    await collector.stop();
  });

  it('stops within its timeout when a sink blocks, closing the sink under the batch, which stays unacked', async () => {
    // A sink that hangs until closed, like one retrying against a dead Elasticsearch.
    class BlockedSink implements Sink {
      closed = false;
      private release!: (err: Error) => void;
      async open() {}
      write() {
        return new Promise<WriteResult>((_, reject) => (this.release = reject));
      }
      async close() {
        this.closed = true;
        this.release(new Error('sink closed'));
      }
    }
    // Like the Kafka consumer, stop() waits for the batch in flight.
    class WaitingConsumer extends FakeConsumer {
      inFlight: Promise<void> = Promise.resolve();
      override async stop() {
        await this.inFlight.catch(() => undefined);
      }
    }
    const consumer = new WaitingConsumer();
    const sink = new BlockedSink();
    const collector = new Collector(consumer, [{ name: 'es', sink }], silentLogger(), { stopTimeoutMs: 200 });
    await collector.start();
    const r = consumer.send([ev('1', 'x')]);
    consumer.inFlight = r.done;
    await collector.stop();
    expect(sink.closed).toBe(true);
    await expect(r.done).rejects.toThrow();
    expect(r.acked()).toBe(false);
  });

  it('dead-letters the events a sink refuses with its reason, writes the rest once, then acks', async () => {
    const consumer = new FakeConsumer();
    const a = new MemorySink();
    a.refuse = new Set(['2', '5']);
    const dl = new MemoryDeadLetter();
    const collector = new Collector(consumer, [{ name: 'files', sink: a }], silentLogger(), { deadLetter: dl });
    await collector.start();
    const r = consumer.send(['1', '2', '3', '4', '5', '6'].map((id) => ev(id, id === '2' || id === '5' ? 'bad' : 'good')));
    await r.done;
    expect(r.acked()).toBe(true);
    expect(a.got).toEqual(['1', '3', '4', '6']);
    // One write: a refusal is never retried.
    expect(a.calls).toEqual([['1', '2', '3', '4', '5', '6']]);
    expect(dl.got.map((e) => [e.event?.id, e.reason])).toEqual([
      ['2', 'sinks.files: path bad/ refused: ENOTDIR'],
      ['5', 'sinks.files: path bad/ refused: ENOTDIR'],
    ]);
    expect([collector.written, collector.refused, collector.unrouted]).toEqual([4, 2, 0]);
    await collector.stop();
  });

  it('writes again only the events a sink asked to retry, and acks once they are stored', async () => {
    const consumer = new FakeConsumer();
    const a = new MemorySink();
    a.busy = new Map([
      ['2', 2],
      ['3', 1],
    ]);
    const collector = new Collector(consumer, [{ name: 'es', sink: a }], silentLogger());
    await collector.start();
    const r = consumer.send(['1', '2', '3', '4'].map((id) => ev(id, 's')));
    await r.done;
    expect(r.acked()).toBe(true);
    expect(a.calls).toEqual([['1', '2', '3', '4'], ['2', '3'], ['2']]);
    expect(a.got.sort()).toEqual(['1', '2', '3', '4']);
    expect(collector.written).toBe(4);
    await collector.stop();
  });

  it('keeps a batch unacked when a sink refuses events and there is no dead-letter to keep them', async () => {
    const consumer = new FakeConsumer();
    const a = new MemorySink();
    a.refuse = new Set(['1']);
    const collector = new Collector(consumer, [{ name: 'files', sink: a }], silentLogger());
    await collector.start();
    const r = consumer.send([ev('1', 'x'), ev('2', 'x')]);
    await expect(r.done).rejects.toThrow('sink "files" refused 1 event(s) and there is no dead-letter to keep them');
    expect(r.acked()).toBe(false);
    await collector.stop();
  });
});

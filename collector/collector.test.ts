import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import type { AckableBatch, BusConsumer, Sink } from '../core/pipeline.js';
import { Collector } from './collector.js';
import type { DeadLetter, DeadLetterEntry } from './dead-letter/dead-letter.js';
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
  failNext = 0;
  async open() {}
  async close() {}
  async write(batch: readonly LogEvent[]) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk full');
    }
    this.got.push(...batch.map((e) => e.id));
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
        return new Promise<void>((_, reject) => (this.release = reject));
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
});

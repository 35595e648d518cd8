import { describe, expect, it, vi } from 'vitest';
import type { AckableBatch } from '../../../core/pipeline.js';
import { encodeEvent } from '../../../core/wire.js';
import { captureLogger } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import type { NativeMessage, TopicPartitionOffset } from './native.js';

// What a consumer session leaves behind when it ends with commits librdkafka never
// answered: a fake binding that hands out one batch and answers no commit (a closed
// consumer answers none; the real broker cannot be made to hold an answer back on cue).

const commits: TopicPartitionOffset[][] = [];

const record = (offset: number): NativeMessage => ({
  topic: 'logs',
  partition: 0,
  offset,
  size: 100,
  value: encodeEvent({
    id: `id-${offset}`,
    timestamp: 0,
    message: `m${offset}`,
    service: 's',
    module: 'm',
    host: 'h',
    source: { kind: 'test' },
    fields: {},
  }),
});

class FakeConsumer {
  private handedOut = false;
  on(): this {
    return this;
  }
  connect(_options: unknown, cb: (err: null) => void): this {
    setImmediate(() => cb(null));
    return this;
  }
  disconnect(cb: (err: null) => void): this {
    setImmediate(() => cb(null));
    return this;
  }
  subscribe(): this {
    return this;
  }
  setDefaultConsumeTimeout(): void {}
  setDefaultIsTimeoutOnlyForFirstMessage(): void {}
  consume(_count: number, cb: (err: null, messages: NativeMessage[]) => void): void {
    const messages = this.handedOut ? [] : [record(0), record(1), record(2)];
    this.handedOut = true;
    setTimeout(() => cb(null, messages), 5);
  }
  commit(offsets: TopicPartitionOffset[]): this {
    commits.push(offsets);
    return this;
  }
  assignments(): [] {
    return [];
  }
}

vi.mock('./native.js', async (original) => ({
  ...(await original<typeof import('./native.js')>()),
  loadNative: () => ({ KafkaConsumer: FakeConsumer }),
}));

const { LibrdkafkaConsumer } = await import('./consumer.js');

describe('librdkafka consumer session end', () => {
  it('keeps no unanswered commit once its consumer is closed, and remembers their batches as written', async () => {
    const options = kafkaBusOptions.parse({ client: 'librdkafka', topic: 'logs', consumer: { max_wait: '10ms' } });
    const setup: ClientSetup = { options, tls: undefined, logger: captureLogger().logger, component: 'bus' };
    const consumer = new LibrdkafkaConsumer(setup, undefined);
    const delivered: string[] = [];
    await consumer.start(async (batch: AckableBatch) => {
      delivered.push(...batch.events.map((e) => e.id));
      await batch.ack();
    });
    await vi.waitFor(() => expect(commits).toEqual([[{ topic: 'logs', partition: 0, offset: 3 }]]));
    await consumer.stop();
    expect(delivered).toEqual(['id-0', 'id-1', 'id-2']);
    expect((Reflect.get(consumer, 'commits') as Map<string, unknown>).size).toBe(0);
    // Read again (the commit may not have landed), the batch is known as written.
    const uncommitted = Reflect.get(consumer, 'uncommitted') as { get(topic: string, partition: number): unknown };
    expect(uncommitted.get('logs', 0)).toBeDefined();
  });
});

import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { AckableBatch } from '../../../core/pipeline.js';
import { encodeEvent } from '../../../core/wire.js';
import { captureLogger, makeEvent } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import { ERR, type NativeMessage, type TopicPartition, type TopicPartitionOffset } from './native.js';

// What a consumer session does with commits and rebalance steps librdkafka answers out of
// the usual order: a fake binding that hands out the batches a test queues and answers
// commits and rebalances only when the test says so (the real broker cannot be made to
// hold an answer back, or refuse an assign, on cue).

const commits: TopicPartitionOffset[][] = [];
/** Each handed out by one consume(), in order; an empty consume() once they are gone. */
const batches: NativeMessage[][] = [];
const consumers: FakeConsumer[] = [];
let assignFails = false;

const record = (offset: number): NativeMessage => ({
  topic: 'logs',
  partition: 0,
  offset,
  size: 100,
  value: encodeEvent(makeEvent({ id: `id-${offset}`, message: `m${offset}` })),
});

class FakeConsumer {
  readonly handlers = new Map<string, (...args: never[]) => void>();
  assigned: TopicPartition[] = [];
  disconnected = false;
  constructor(readonly config: { rebalance_cb: (err: { code: number }, assignment: TopicPartition[]) => void }) {
    consumers.push(this);
  }
  on(event: string, handler: (...args: never[]) => void): this {
    this.handlers.set(event, handler);
    return this;
  }
  connect(_options: unknown, cb: (err: null) => void): this {
    setImmediate(() => cb(null));
    return this;
  }
  disconnect(cb: (err: null) => void): this {
    this.disconnected = true;
    setImmediate(() => cb(null));
    return this;
  }
  subscribe(): this {
    return this;
  }
  setDefaultConsumeTimeout(): void {}
  setDefaultIsTimeoutOnlyForFirstMessage(): void {}
  consume(_count: number, cb: (err: null, messages: NativeMessage[]) => void): void {
    const messages = this.disconnected ? [] : (batches.shift() ?? []);
    setTimeout(() => cb(null, messages), 5);
  }
  commit(offsets: TopicPartitionOffset[]): this {
    commits.push(offsets);
    return this;
  }
  assign(partitions: TopicPartition[]): this {
    if (assignFails) throw Object.assign(new Error('Local: Erroneous state'), { code: -172 });
    this.assigned = partitions;
    return this;
  }
  unassign(): this {
    this.assigned = [];
    return this;
  }
  assignments(): TopicPartition[] {
    return this.assigned;
  }
  /** librdkafka's answer to commits, as its 'offset.commit' event gives it. */
  answer(offsets: TopicPartitionOffset[]): void {
    (this.handlers.get('offset.commit') as (err: null, offsets: TopicPartitionOffset[]) => void)(null, offsets);
  }
}

vi.mock('./native.js', async (original) => ({
  ...(await original<typeof import('./native.js')>()),
  loadNative: () => ({ KafkaConsumer: FakeConsumer }),
}));

const { LibrdkafkaConsumer } = await import('./consumer.js');

function start(logger = captureLogger().logger) {
  const options = kafkaBusOptions.parse({ client: 'librdkafka', topic: 'logs', consumer: { max_wait: '10ms' } });
  const setup: ClientSetup = { options, tls: undefined, logger, component: 'bus' };
  const consumer = new LibrdkafkaConsumer(setup, undefined);
  const delivered: string[] = [];
  const started = consumer.start(async (batch: AckableBatch) => {
    delivered.push(...batch.events.map((e) => e.id));
    await batch.ack();
  });
  return { consumer, delivered, started };
}

/** The fake once the consumer holds it connected: before that, rebalance steps are not its to take. */
async function connected(consumer: object): Promise<FakeConsumer> {
  await vi.waitFor(() => expect(consumers[0] && Reflect.get(consumer, 'consumer') === consumers[0]).toBe(true));
  return consumers[0]!;
}

beforeEach(() => {
  commits.length = 0;
  batches.length = 0;
  consumers.length = 0;
  assignFails = false;
});

describe('librdkafka consumer session end', () => {
  it('keeps no unanswered commit once its consumer is closed, and remembers their batches as written', async () => {
    batches.push([record(0), record(1), record(2)]);
    const { consumer, delivered, started } = start();
    await started;
    await vi.waitFor(() => expect(commits).toEqual([[{ topic: 'logs', partition: 0, offset: 3 }]]));
    await consumer.stop();
    expect(delivered).toEqual(['id-0', 'id-1', 'id-2']);
    expect((Reflect.get(consumer, 'commits') as Map<string, unknown>).size).toBe(0);
    // Read again (the commit may not have landed), the batch is known as written.
    const uncommitted = Reflect.get(consumer, 'uncommitted') as { get(topic: string, partition: number): unknown };
    expect(uncommitted.get('logs', 0)).toBeDefined();
  });

  it('commits the later offset again when an earlier commit is confirmed after it', async () => {
    batches.push([record(0), record(1), record(2)], [record(3), record(4)]);
    const { consumer, delivered, started } = start();
    await started;
    const fake = await connected(consumer);
    fake.config.rebalance_cb({ code: ERR.ASSIGN_PARTITIONS }, [{ topic: 'logs', partition: 0 }]);
    await vi.waitFor(() =>
      expect(commits).toEqual([[{ topic: 'logs', partition: 0, offset: 3 }], [{ topic: 'logs', partition: 0, offset: 5 }]]),
    );
    // The first commit's retry lands after the second: the group's offset is 3 again.
    fake.answer([{ topic: 'logs', partition: 0, offset: 5 }]);
    fake.answer([{ topic: 'logs', partition: 0, offset: 3 }]);
    expect(commits.slice(2)).toEqual([[{ topic: 'logs', partition: 0, offset: 5 }]]);
    // In the usual order nothing more is committed.
    fake.answer([{ topic: 'logs', partition: 0, offset: 5 }]);
    expect(commits).toHaveLength(3);
    await consumer.stop();
    expect(delivered).toEqual(['id-0', 'id-1', 'id-2', 'id-3', 'id-4']);
  });

  it('leaves an offset confirmed in order alone, and commits nothing for a partition no longer assigned', async () => {
    batches.push([record(0), record(1), record(2)], [record(3), record(4)]);
    const { consumer, started } = start();
    await started;
    const fake = await connected(consumer);
    fake.config.rebalance_cb({ code: ERR.ASSIGN_PARTITIONS }, [{ topic: 'logs', partition: 0 }]);
    await vi.waitFor(() => expect(commits).toHaveLength(2));
    fake.answer([{ topic: 'logs', partition: 0, offset: 3 }]);
    fake.answer([{ topic: 'logs', partition: 0, offset: 5 }]);
    expect(commits).toHaveLength(2);
    // Out of order, but after the partition was given up: its next owner commits it.
    batches.push([record(5)], [record(6)]);
    await vi.waitFor(() => expect(commits).toHaveLength(4));
    fake.answer([{ topic: 'logs', partition: 0, offset: 7 }]);
    fake.config.rebalance_cb({ code: ERR.REVOKE_PARTITIONS }, [{ topic: 'logs', partition: 0 }]);
    await vi.waitFor(() => expect(fake.assigned).toEqual([]));
    fake.answer([{ topic: 'logs', partition: 0, offset: 6 }]);
    expect(commits).toHaveLength(4);
    await consumer.stop();
  });

  it('ends the session when librdkafka refuses an assign, and a new consumer rejoins the group', async () => {
    const { logger, lines } = captureLogger();
    const { consumer, started } = start(logger);
    await started;
    await connected(consumer);
    assignFails = true;
    consumers[0]!.config.rebalance_cb({ code: ERR.ASSIGN_PARTITIONS }, [{ topic: 'logs', partition: 0 }]);
    await vi.waitFor(() => expect(consumers[0]!.disconnected).toBe(true));
    await vi.waitFor(() => expect(consumers).toHaveLength(2), { timeout: 5000 });
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'consumer group rebalance step failed; the consumer rejoins the group',
        'kafka consumer failed; a new one resumes from the committed offsets',
      ]),
    );
    await consumer.stop();
  });
});

import { createRequire } from 'node:module';
import kafkajs, { type EachBatchPayload } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AckableBatch } from '../../../core/pipeline.js';
import { encodeEvent } from '../../../core/wire.js';
import { captureLogger, makeEvent } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';

// The consumer against a fake of kafkajs's Consumer (the surface consumer.ts uses): what it
// subscribes to, how it heartbeats while a batch is written, how it reconnects. Where kafkajs's
// own behaviour decides the outcome (seeks, the heartbeat throttle), its real ConsumerGroup
// runs behind the fake, on a fake cluster that answers the group's requests.

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error & { type: string } };
const REBALANCE_IN_PROGRESS = 27;
const UNKNOWN_MEMBER_ID = 25;

interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** The part of kafkajs's ConsumerGroup (src/consumer/consumerGroup.js) these tests drive. */
interface ConsumerGroup {
  joinAndSync(): Promise<void>;
  fetch(nodeId: number): Promise<unknown[]>;
  seek(seek: TopicPartitionOffset): void;
  hasSeekOffset(tp: { topic: string; partition: number }): boolean;
  resolveOffset(offset: TopicPartitionOffset): void;
  heartbeat(options: { interval: number }): Promise<void>;
  memberId: string | null;
  coordinator: unknown;
}
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup') as new (options: Record<string, unknown>) => ConsumerGroup;

type Listener = (event: { payload: Record<string, unknown> }) => void;

/** Topics the admin's listTopics() answers. */
let adminTopics: string[] = [];
/** Topics kafkajs's own metadata request answers (what it resolves a pattern from). */
let metadataTopics: string[] = [];
let connectFailures = 0;
/** The group behind the next consumer made, for its seeks. */
let nextGroup: ConsumerGroup | undefined;
const consumers: FakeConsumer[] = [];

class FakeConsumer {
  readonly events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };
  readonly listeners = new Map<string, Listener>();
  readonly group = nextGroup;
  subscribed: string[] = [];
  eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;

  async connect(): Promise<void> {
    if (connectFailures > 0) {
      connectFailures--;
      throw new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    }
  }
  /** As kafkajs subscribes: a pattern resolved from its metadata request, a name as it is. */
  async subscribe({ topics }: { topics: (string | RegExp)[] }): Promise<void> {
    for (const t of topics) this.subscribed.push(...(t instanceof RegExp ? metadataTopics.filter((m) => t.test(m)) : [t]));
  }
  async run({ eachBatch }: { eachBatch: (payload: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.eachBatch = eachBatch;
    this.listeners.get(this.events.GROUP_JOIN)?.({
      payload: { groupId: 'sluice-collectors', memberAssignment: Object.fromEntries(this.subscribed.map((t) => [t, [0]])) },
    });
  }
  async disconnect(): Promise<void> {}
  on(event: string, listener: Listener): void {
    this.listeners.set(event, listener);
  }
  /** kafkajs's consumer.seek only records the offset in its group, for the next fetch. */
  seek({ topic, partition, offset }: { topic: string; partition: number; offset: string | number }): void {
    this.group?.seek({ topic, partition, offset: String(offset) });
  }
}

vi.mock('./config.js', async (original) => ({
  ...(await original<typeof import('./config.js')>()),
  createKafka: () => ({
    admin: () => ({ connect: async () => {}, disconnect: async () => {}, listTopics: async () => adminTopics }),
    consumer: () => {
      const c = new FakeConsumer();
      consumers.push(c);
      return c;
    },
  }),
}));

const { KafkajsConsumer } = await import('./consumer.js');

const HEARTBEAT_INTERVAL = 3000;

function start(topic: string, deliver: (batch: AckableBatch) => Promise<void> = async () => {}) {
  const options = kafkaBusOptions.parse({ client: 'kafkajs', topic, consumer: { heartbeat_interval: `${HEARTBEAT_INTERVAL}ms` } });
  const setup: ClientSetup = { options, tls: undefined, logger: captureLogger().logger, component: 'bus' };
  const consumer = new KafkajsConsumer(setup, undefined);
  return { consumer, started: consumer.start(deliver) };
}

/** Lets the consumer's promises run, fake time standing still, until `done()`. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await vi.advanceTimersByTimeAsync(0);
  expect(done()).toBe(true);
}

function record(offset: number) {
  return {
    offset: String(offset),
    timestamp: '0',
    key: null,
    value: encodeEvent(makeEvent({ id: `id-${offset}`, message: `m${offset}` })),
  };
}

/** A kafkajs eachBatch payload of `offsets` of logs/`partition`; `over` replaces its functions. */
function payload(partition: number, offsets: number[], over: Partial<EachBatchPayload> = {}): EachBatchPayload {
  const messages = offsets.map(record);
  return {
    batch: { topic: 'logs', partition, messages, firstOffset: () => messages[0]!.offset },
    isRunning: () => true,
    isStale: () => false,
    heartbeat: async () => {},
    resolveOffset: () => {},
    commitOffsetsIfNecessary: async () => {},
    ...over,
  } as unknown as EachBatchPayload;
}

beforeEach(() => {
  vi.useFakeTimers();
  adminTopics = [];
  metadataTopics = [];
  connectFailures = 0;
  nextGroup = undefined;
  consumers.length = 0;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('kafkajs consumer heartbeats while a batch is written', () => {
  async function writing(heartbeat: () => Promise<void>) {
    let written: AckableBatch | undefined;
    const { consumer, started } = start('logs', async (batch) => void (written = batch));
    await started;
    await until(() => consumers[0]?.eachBatch !== undefined);
    const commitOffsetsIfNecessary = vi.fn(async () => {});
    const handled = consumers[0]!.eachBatch!(payload(0, [0, 1, 2], { heartbeat, commitOffsetsIfNecessary }));
    // Its outcome is asserted once the batch is acked.
    handled.catch(() => undefined);
    await until(() => written !== undefined);
    return { consumer, handled, commitOffsetsIfNecessary, ack: () => written!.ack() };
  }

  it('goes on heartbeating through a rebalance, and rejoins once the batch is committed', async () => {
    const rebalancing = createErrorFromCode(REBALANCE_IN_PROGRESS);
    const heartbeat = vi.fn<() => Promise<void>>().mockRejectedValueOnce(rebalancing).mockResolvedValue(undefined);
    const { consumer, handled, commitOffsetsIfNecessary, ack } = await writing(heartbeat);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_INTERVAL);
    expect(heartbeat).toHaveBeenCalled();
    const afterError = heartbeat.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5 * HEARTBEAT_INTERVAL);
    expect(heartbeat.mock.calls.length).toBeGreaterThan(afterError);
    await ack();
    // The succeeding heartbeats did not make the rebalance forgotten.
    await expect(handled).rejects.toBe(rebalancing);
    expect(commitOffsetsIfNecessary).toHaveBeenCalledWith({ topics: [{ topic: 'logs', partitions: [{ partition: 0, offset: '3' }] }] });
    await consumer.stop();
  });

  it('goes on after a heartbeat that timed out, which needs no rejoin once one succeeds', async () => {
    const timedOut = new kafkajs.KafkaJSConnectionError('Connection timeout');
    const heartbeat = vi.fn<() => Promise<void>>().mockRejectedValueOnce(timedOut).mockResolvedValue(undefined);
    const { consumer, handled, ack } = await writing(heartbeat);
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_INTERVAL);
    expect(heartbeat.mock.calls.length).toBeGreaterThan(1);
    await ack();
    await expect(handled).resolves.toBeUndefined();
    await consumer.stop();
  });

  it('stops once the group no longer knows the member', async () => {
    const gone = createErrorFromCode(UNKNOWN_MEMBER_ID);
    const heartbeat = vi.fn<() => Promise<void>>().mockRejectedValue(gone);
    const { consumer, handled, ack } = await writing(heartbeat);
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_INTERVAL);
    expect(heartbeat).toHaveBeenCalledTimes(1);
    await ack();
    await expect(handled).rejects.toBe(gone);
    await consumer.stop();
  });

  it("sends one at least every 1.5 heartbeat intervals through kafkajs's throttle", async () => {
    // kafkajs's own heartbeat: sent only once the interval passed since the last answer.
    const group = new ConsumerGroup(groupOptions(new FakeCluster()));
    const sent: number[] = [];
    group.memberId = 'me';
    group.coordinator = {
      heartbeat: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        sent.push(Date.now());
      },
    };
    const begin = Date.now();
    const { consumer, handled, ack } = await writing(() => group.heartbeat({ interval: HEARTBEAT_INTERVAL }));
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_INTERVAL);
    const gaps = [sent[0]! - begin, ...sent.slice(1).map((t, i) => t - sent[i]!)];
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1.5 * HEARTBEAT_INTERVAL + 20);
    await ack();
    await handled;
    await consumer.stop();
  });
});

/** Just enough of kafkajs's Cluster for a ConsumerGroup to join, sync and fetch: one broker, node 0. */
class FakeCluster {
  /** What the group assigns this member at the next join. */
  assignment: Record<string, number[]> = { logs: [0] };
  /** The group's offsets as the coordinator holds them. */
  readonly committed: Record<string, Record<number, string>> = { logs: { 0: '100', 1: '0' } };
  /** Per fetch, the offset asked for each `topic/partition`. */
  readonly fetches: Record<string, string>[] = [];
  private readonly offsetsCache: Record<string, Record<number, string>> = {};
  private generation = 0;

  readonly coordinator = {
    isConnected: () => true,
    joinGroup: async () => ({
      generationId: ++this.generation,
      leaderId: 'leader',
      memberId: 'me',
      members: [],
      groupProtocol: 'RoundRobinAssigner',
    }),
    syncGroup: async () => ({
      memberAssignment: kafkajs.AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment: this.assignment,
        userData: Buffer.alloc(0),
      }),
    }),
    offsetFetch: async ({ topics }: { topics: { topic: string; partitions: { partition: number }[] }[] }) => ({
      responses: topics.map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map(({ partition }) => ({ partition, offset: this.committed[topic]![partition]!, metadata: null })),
      })),
    }),
  };

  async findGroupCoordinator() {
    return this.coordinator;
  }
  async refreshMetadata() {}
  async refreshMetadataIfNecessary() {}
  findTopicPartitionMetadata() {
    return [0, 1].map((partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0] }));
  }
  committedOffsets() {
    return this.offsetsCache;
  }
  async findBroker() {
    return {
      fetch: async ({ topics }: { topics: { topic: string; partitions: { partition: number; fetchOffset: string }[] }[] }) => {
        this.fetches.push(
          Object.fromEntries(topics.flatMap(({ topic, partitions }) => partitions.map((p) => [`${topic}/${p.partition}`, p.fetchOffset]))),
        );
        return { responses: [] };
      },
    };
  }
}

function groupOptions(cluster: FakeCluster): Record<string, unknown> {
  const logger = { namespace: () => logger, debug() {}, info() {}, warn() {}, error() {} };
  return {
    cluster,
    groupId: 'sluice-collectors',
    topics: ['logs'],
    topicConfigurations: { logs: { fromBeginning: true } },
    logger,
    instrumentationEmitter: { emit() {} },
    assigners: [],
    retry: { retries: 0 },
    sessionTimeout: 30_000,
    rebalanceTimeout: 60_000,
    maxBytesPerPartition: 1 << 20,
    minBytes: 1,
    maxBytes: 32 << 20,
    maxWaitTimeInMs: 100,
    autoCommit: false,
  };
}

describe('kafkajs consumer after a batch its sinks did not write', () => {
  async function failedBatch() {
    const cluster = new FakeCluster();
    const group = new ConsumerGroup(groupOptions(cluster));
    nextGroup = group;
    const { consumer, started } = start('logs', async () => {
      throw new Error('sink down');
    });
    await started;
    await until(() => consumers[0]?.eachBatch !== undefined);
    await group.joinAndSync();
    await group.fetch(0);
    expect(cluster.fetches.pop()).toEqual({ 'logs/0': '100' });
    const handled = consumers[0]!.eachBatch!(
      payload(0, [100, 101, 102], {
        isStale: () => group.hasSeekOffset({ topic: 'logs', partition: 0 }),
        resolveOffset: (offset) => group.resolveOffset({ topic: 'logs', partition: 0, offset }),
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await handled;
    return { consumer, cluster, group };
  }

  it('reads the batch again from its first offset', async () => {
    const { consumer, cluster, group } = await failedBatch();
    await group.fetch(0);
    expect(cluster.fetches.pop()).toEqual({ 'logs/0': '100' });
    await consumer.stop();
  });

  it('resumes a partition that comes back after a rebalance at what its other owner committed', async () => {
    const { consumer, cluster, group } = await failedBatch();
    // The next heartbeat announced a rebalance: kafkajs rejoins without another fetch, and the
    // partition goes to another member, which writes and commits up to 500.
    cluster.assignment = { logs: [1] };
    await group.joinAndSync();
    await group.fetch(0);
    expect(cluster.fetches.pop()).toEqual({ 'logs/1': '0' });
    cluster.committed.logs![0] = '500';
    cluster.assignment = { logs: [0, 1] };
    await group.joinAndSync();
    await group.fetch(0);
    expect(cluster.fetches.pop()).toEqual({ 'logs/0': '500', 'logs/1': '0' });
    await consumer.stop();
  });
});

describe('kafkajs consumer of a templated topic', () => {
  it('subscribes to the topics the admin listed, also those its own metadata request does not know yet', async () => {
    adminTopics = ['logs.a', 'logs.b', 'other'];
    metadataTopics = ['logs.a', 'other'];
    const { consumer, started } = start('logs.{service}');
    await started;
    await until(() => consumers[0]?.eachBatch !== undefined);
    expect(consumers[0]!.subscribed).toEqual(['logs.a', 'logs.b']);
    await consumer.stop();
  });

  it('rejoins with a topic created later', async () => {
    adminTopics = metadataTopics = ['logs.a'];
    const { consumer, started } = start('logs.{service}');
    await started;
    await until(() => consumers[0]?.eachBatch !== undefined);
    adminTopics = metadataTopics = ['logs.a', 'logs.b'];
    await vi.advanceTimersByTimeAsync(30_000);
    await until(() => consumers[1]?.eachBatch !== undefined);
    expect(consumers[1]!.subscribed).toEqual(['logs.a', 'logs.b']);
    await consumer.stop();
  });
});

describe('kafkajs consumer reconnecting', () => {
  it('waits the shortest backoff again once it was back in the group for a minute', async () => {
    connectFailures = 6;
    const { consumer, started } = start('logs');
    await started;
    // 0.5 + 1 + 2 + 4 + 8 + 16 s at most.
    await vi.advanceTimersByTimeAsync(32_000);
    await until(() => consumers[6]?.eachBatch !== undefined);
    await vi.advanceTimersByTimeAsync(60_000);
    consumers[6]!.listeners.get('consumer.crash')!({ payload: { error: new Error('crashed'), restart: false } });
    await vi.advanceTimersByTimeAsync(500);
    await until(() => consumers[7]?.eachBatch !== undefined);
    await consumer.stop();
  });

  it('keeps backing off a member that fails right after each join', async () => {
    connectFailures = 6;
    const { consumer, started } = start('logs');
    await started;
    await vi.advanceTimersByTimeAsync(32_000);
    await until(() => consumers[6]?.eachBatch !== undefined);
    consumers[6]!.listeners.get('consumer.crash')!({ payload: { error: new Error('crashed'), restart: false } });
    // The seventh wait is at least 15 s (half of the 30 s cap, full jitter), not half a second.
    await vi.advanceTimersByTimeAsync(14_000);
    expect(consumers[7]).toBeUndefined();
    await vi.advanceTimersByTimeAsync(16_000);
    await until(() => consumers[7]?.eachBatch !== undefined);
    await consumer.stop();
  });
});

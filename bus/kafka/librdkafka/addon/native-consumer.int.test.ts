// Sluice's librdkafka consumer addon against the shared broker: what the bus's consumer relies
// on, through the NativeConsumer interface the binding had (connect, subscribe, rounds of
// records viewed in one buffer, rebalances answered by the caller, asynchronous commits and
// their outcomes, pause, seek, close).
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { SHARED_BROKERS, topicsDeletedAfterAll } from '../../../../test/integration/bus-harness.js';
import { waitFor } from '../../../../test/support/index.js';
import { probeLibrdkafka } from '../../client.js';
import { ERR, loadNative, type NativeConsumer, type NativeError, type NativeMessage, type TopicPartition } from '../native.js';

const librdkafka = probeLibrdkafka();
const kafka = new kafkajs.Kafka({ brokers: SHARED_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
const created = topicsDeletedAfterAll(kafka);

interface Member {
  consumer: NativeConsumer;
  rebalances: { code: number; partitions: TopicPartition[] }[];
  commits: { err: NativeError | null | undefined; offsets: { topic: string; partition: number; offset: number; error?: NativeError }[] }[];
}

function member(group: string, extra: Record<string, string | number | boolean> = {}): Member {
  const m: Member = { consumer: undefined as unknown as NativeConsumer, rebalances: [], commits: [] };
  m.consumer = new (loadNative().KafkaConsumer)({
    'bootstrap.servers': SHARED_BROKERS,
    'group.id': group,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'auto.offset.reset': 'earliest',
    'partition.assignment.strategy': 'roundrobin',
    'session.timeout.ms': 6000,
    'heartbeat.interval.ms': 500,
    rebalance_cb: ((err: NativeError, assignment: TopicPartition[]) => {
      m.rebalances.push({ code: err.code, partitions: assignment });
      if (err.code === ERR.ASSIGN_PARTITIONS) m.consumer.assign(assignment);
      else m.consumer.unassign();
    }) as never,
    offset_commit_cb: true,
    ...extra,
  });
  m.consumer.on('offset.commit', (err, offsets) => m.commits.push({ err, offsets }));
  m.consumer.setDefaultConsumeTimeout(200);
  m.consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
  return m;
}

const connect = (c: NativeConsumer, timeout = 10_000) =>
  new Promise<void>((resolve, reject) => c.connect({ timeout }, (err) => (err ? reject(err) : resolve())));
const disconnect = (c: NativeConsumer) => new Promise<void>((resolve) => c.disconnect(() => resolve()));
const consume = (c: NativeConsumer, count: number) =>
  new Promise<NativeMessage[]>((resolve, reject) =>
    c.consume(count, (err, messages) => (err && err.code !== ERR.TIMED_OUT ? reject(err) : resolve(messages))),
  );

async function produced(topic: string, partitions: number, count: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
  created.push(topic);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let from = 0; from < count; from += 5000) {
    const messages = [];
    for (let i = from; i < Math.min(count, from + 5000); i++)
      messages.push({ partition: i % partitions, key: i % 2 ? `k${i}` : null, value: i % 10 === 9 ? null : `record-${i}` });
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
}

describe.skipIf(!librdkafka.installed)(`librdkafka consumer addon${librdkafka.installed ? '' : ` — SKIPPED: ${librdkafka.reason}`}`, () => {
  it('reads every record once with its partition, offset, key and value, and a new member resumes after the committed offsets', async () => {
    const topic = `sluice-addon-consume-${process.pid}-${Date.now()}`;
    const count = 20_000;
    await produced(topic, 3, count);
    const group = `${topic}-group`;
    const a = member(group);
    await connect(a.consumer);
    a.consumer.subscribe([topic]);
    let records: NativeMessage[] = [];
    while (records.length < count / 2) records = records.concat(await consume(a.consumer, 500));
    expect(a.rebalances[0]).toMatchObject({ code: ERR.ASSIGN_PARTITIONS });
    expect(a.rebalances[0]!.partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
    // Commit what was read: per partition, the offset after the highest record.
    const next = new Map<number, number>();
    for (const r of records) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
    a.consumer.commit([...next].map(([partition, offset]) => ({ topic, partition, offset })));
    // The outcome comes with a later consume, as librdkafka serves it.
    await waitFor('the commit outcome', async () => (await consume(a.consumer, 1)).length >= 0 && a.commits.length > 0, 20_000);
    expect(a.commits[0]!.err).toBeNull();
    expect(a.commits[0]!.offsets.map((o) => [o.partition, o.offset, o.error]).sort()).toEqual(
      [...next].map(([p, o]) => [p, o, undefined]).sort(),
    );
    await disconnect(a.consumer);
    // Leaving the group revoked its partitions, answered by the addon itself: the caller has nothing in flight any more.
    expect(a.rebalances.filter((r) => r.code === ERR.REVOKE_PARTITIONS)).toHaveLength(0);
    expect(() => a.consumer.assignments()).toThrow('librdkafka consumer closed');

    const b = member(group);
    await connect(b.consumer);
    b.consumer.subscribe([topic]);
    const committed = [...next.values()].reduce((s, o) => s + o, 0);
    const rest: NativeMessage[] = [];
    await waitFor(
      'the rest of the records',
      async () => {
        rest.push(...(await consume(b.consumer, 1000)));
        return rest.length >= count - committed;
      },
      30_000,
    );
    await disconnect(b.consumer);
    // Every offset of every partition exactly once across both members, values and keys as produced.
    const all = [...records.filter((r) => r.offset < next.get(r.partition)!), ...rest];
    expect(
      rest
        .filter((r) => r.offset < next.get(r.partition)!)
        .map((r) => [r.partition, r.offset])
        .slice(0, 5),
      JSON.stringify({ next: [...next], a: a.rebalances, b: b.rebalances, commits: a.commits }),
    ).toEqual([]);
    const byPartition = new Map<number, number[]>();
    for (const r of all) (byPartition.get(r.partition) ?? byPartition.set(r.partition, []).get(r.partition)!).push(r.offset);
    for (const [, offsets] of byPartition) expect(offsets.sort((x, y) => x - y)).toEqual(offsets.map((_, i) => i));
    expect(all).toHaveLength(count);
    const values = new Set(all.map((r) => (r.value === null ? null : r.value.toString())));
    expect(values.size).toBe(count - count / 10 + 1);
    for (const r of all) {
      expect(r.size).toBe(r.value === null ? 0 : r.value.length);
      expect(r.timestamp).toBeGreaterThan(Date.now() - 600_000);
    }
    const withKey = all.find((r) => r.value?.toString() === 'record-12345')!;
    expect(withKey).toMatchObject({ topic, partition: 12_345 % 3 });
    expect(withKey.key!.toString()).toBe('k12345');
    expect(all.find((r) => r.value?.toString() === 'record-12344')!.key).toBeNull();
  }, 120_000);

  it('hands a revocation to the caller, which gives the partitions up when it is ready; pauses, resumes and seeks back', async () => {
    const topic = `sluice-addon-rebalance-${process.pid}-${Date.now()}`;
    await produced(topic, 2, 2000);
    const group = `${topic}-group`;
    const a = member(group);
    await connect(a.consumer);
    a.consumer.subscribe([topic]);
    let first: NativeMessage[] = [];
    await waitFor('a first round', async () => (first = await consume(a.consumer, 100)).length > 0, 30_000);
    // Paused: nothing more comes from the paused partitions.
    const assigned = a.consumer.assignments();
    expect(assigned.map((p) => p.partition).sort()).toEqual([0, 1]);
    a.consumer.pause(assigned);
    await consume(a.consumer, 1000);
    a.consumer.resume(assigned);
    // Seek back to the start of the first record's partition: it comes again.
    const r0 = first[0]!;
    await new Promise<void>((resolve, reject) =>
      a.consumer.seek({ topic, partition: r0.partition, offset: r0.offset }, 5000, (err) => (err ? reject(err) : resolve())),
    );
    const again: NativeMessage[] = [];
    await waitFor(
      'the first record again',
      async () => {
        again.push(...(await consume(a.consumer, 1000)));
        return again.some((r) => r.partition === r0.partition && r.offset === r0.offset);
      },
      20_000,
    );

    // A second member joins: the first is told to revoke, and the group waits for its unassign.
    const b = member(group);
    await connect(b.consumer);
    b.consumer.subscribe([topic]);
    await waitFor(
      'both members assigned',
      async () => {
        await Promise.all([consume(a.consumer, 10), consume(b.consumer, 10)]);
        return (
          b.rebalances.some((r) => r.code === ERR.ASSIGN_PARTITIONS) &&
          a.rebalances.filter((r) => r.code === ERR.ASSIGN_PARTITIONS).length >= 2
        );
      },
      60_000,
    );
    expect(a.rebalances.slice(0, 3).map((r) => r.code)).toEqual([ERR.ASSIGN_PARTITIONS, ERR.REVOKE_PARTITIONS, ERR.ASSIGN_PARTITIONS]);
    const partitionsOf = (m: Member) => m.rebalances.at(-1)!.partitions.map((p) => p.partition);
    expect([...partitionsOf(a), ...partitionsOf(b)].sort()).toEqual([0, 1]);
    await Promise.all([disconnect(a.consumer), disconnect(b.consumer)]);
  }, 120_000);

  it('fails a connect to brokers that do not answer within its timeout, with a librdkafka code, and closes', async () => {
    const m = member('unreachable', { 'bootstrap.servers': '127.0.0.1:1', 'socket.connection.setup.timeout.ms': 1000 });
    const started = Date.now();
    const err = await connect(m.consumer, 500).then(
      () => undefined,
      (e: NativeError) => e,
    );
    expect(err?.code).toBeTypeOf('number');
    expect(err?.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    // Not connected: a consume says so instead of touching a client that is not there.
    expect(() => m.consumer.subscribe(['x'])).toThrow('not connected');
    await disconnect(m.consumer);
    const closed = await new Promise<NativeError | null>((resolve) => m.consumer.consume(1, (e) => resolve(e)));
    expect(closed?.message).toBe('librdkafka consumer closed');
  });
});

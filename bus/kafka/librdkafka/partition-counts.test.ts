import { describe, expect, it } from 'vitest';
import type { Metadata } from './native.js';
import { type FetchMetadata, PartitionCounts } from './partition-counts.js';

/** A cluster whose topics have the given partition counts, counting the lookups. */
function cluster(counts: Record<string, number>) {
  const asked: string[] = [];
  let failing: Error | undefined;
  const fetch: FetchMetadata = async (topic) => {
    asked.push(topic);
    if (failing) throw failing;
    const n = counts[topic] ?? 0;
    const metadata: Metadata = { topics: [{ name: topic, partitions: Array.from({ length: n }, (_, id) => ({ id })) }] };
    return metadata;
  };
  return { fetch, asked, counts, fail: (err: Error | undefined) => (failing = err) };
}

describe('PartitionCounts', () => {
  it('looks a topic up once, before its first records', async () => {
    const c = cluster({ a: 6, b: 2 });
    const counts = new PartitionCounts(() => 0);
    await counts.ensure(['a', 'b'], c.fetch);
    await counts.ensure(['a', 'b'], c.fetch);
    expect([counts.count('a'), counts.count('b')]).toEqual([6, 2]);
    expect(c.asked).toEqual(['a', 'b']);
  });

  it('gives why for a topic the cluster does not know and for a lookup that failed, naming the topic', async () => {
    const c = cluster({});
    const counts = new PartitionCounts(() => 0);
    expect(counts.count('gone')).toMatchObject({ message: 'partition count of topic "gone" not looked up', code: 3 });
    await counts.ensure(['gone'], c.fetch);
    expect(counts.count('gone')).toMatchObject({ message: expect.stringContaining('topic "gone" has no partitions'), code: 3 });
    c.fail(Object.assign(new Error('Local: Broker transport failure'), { code: -195 }));
    await counts.ensure(['x'], c.fetch);
    expect(counts.count('x')).toMatchObject({
      message: 'partition count of topic "x" not looked up: Local: Broker transport failure (code -195)',
      code: -195,
    });
    c.fail(undefined);
    c.counts.x = 2;
    await counts.ensure(['x'], c.fetch);
    expect(counts.count('x')).toBe(2);
  });

  it('refreshes a count older than five minutes in the background, using the old one meanwhile', async () => {
    let now = 0;
    const c = cluster({ a: 2 });
    const counts = new PartitionCounts(() => now);
    await counts.ensure(['a'], c.fetch);
    c.counts.a = 4;
    now = 5 * 60_000 - 1;
    await counts.ensure(['a'], c.fetch);
    expect(c.asked).toHaveLength(1);
    now = 5 * 60_000;
    c.fail(new Error('broker down'));
    await counts.ensure(['a'], c.fetch);
    await new Promise((r) => setImmediate(r));
    // The refresh failed: the old count stays, and the next send tries again.
    expect(counts.count('a')).toBe(2);
    c.fail(undefined);
    await counts.ensure(['a'], c.fetch);
    await new Promise((r) => setImmediate(r));
    expect(counts.count('a')).toBe(4);
    expect(c.asked).toHaveLength(3);
  });

  it('waits for a fresh count of a topic forgotten after librdkafka refused its partition', async () => {
    const c = cluster({ a: 6 });
    const counts = new PartitionCounts(() => 0);
    await counts.ensure(['a'], c.fetch);
    c.counts.a = 3;
    counts.forget('a');
    await counts.ensure(['a'], c.fetch);
    expect(counts.count('a')).toBe(3);
    // A suspect count is not used again when the fresh lookup fails.
    counts.forget('a');
    c.fail(new Error('broker down'));
    await counts.ensure(['a'], c.fetch);
    expect(counts.count('a')).toMatchObject({ message: expect.stringContaining('broker down') });
  });
});

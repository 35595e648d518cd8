import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { cachingPartitioner } from './producer.js';

describe('cachingPartitioner', () => {
  const meta = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: i === 1 ? -1 : 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

  it("gives every key the partition of kafkajs's default partitioner", () => {
    const ours = cachingPartitioner();
    const theirs = kafkajs.Partitioners.DefaultPartitioner();
    for (const n of [1, 4, 6, 7]) {
      for (let k = 0; k < 200; k++) {
        const args = { topic: 't', partitionMetadata: meta(n), message: { key: `svc/mod-${k}`, value: 'v' } };
        expect(ours(args)).toBe(theirs(args));
        // The second lookup comes from the cache and must not change.
        expect(ours(args)).toBe(theirs(args));
      }
    }
  });

  it('places a record with a partition_by value as if that value were its key, whatever its key', () => {
    const ours = cachingPartitioner();
    const theirs = kafkajs.Partitioners.DefaultPartitioner();
    for (let k = 0; k < 100; k++) {
      const placed = { topic: 't', partitionMetadata: meta(6), message: { value: 'v', placeBy: `svc/mod-${k}` } };
      const keyed = { topic: 't', partitionMetadata: meta(6), message: { key: `svc/mod-${k}`, value: 'v' } };
      expect(ours(placed)).toBe(theirs(keyed));
      expect(ours({ ...placed, message: { ...placed.message, key: 'other' } })).toBe(theirs(keyed));
    }
  });

  it('honours an explicit partition', () => {
    expect(cachingPartitioner()({ topic: 't', partitionMetadata: meta(4), message: { key: 'k', value: 'v', partition: 3 } })).toBe(3);
  });
});

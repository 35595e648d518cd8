import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, Placement } from './placement.js';

/** kafkajs's default partitioner (the Java client's): the oracle for where a keyed record goes. */
const javaPartitioner = kafkajs.Partitioners.DefaultPartitioner();
const metadata = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
const keyedPartition = (key: string, n: number) =>
  javaPartitioner({ topic: 't', partitionMetadata: metadata(n), message: { key, value: 'v' } });

describe('placement', () => {
  it("places a value where Kafka's keyed partitioner puts a record with that key", () => {
    const placement = new Placement();
    // Every tail length (0 to 3 bytes after the whole words), multi-byte UTF-8, and the empty value.
    const values = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'abcde',
      'shop/api',
      'café/😀',
      ...Array.from({ length: 300 }, (_, i) => `svc${i % 17}/mod-${i}`),
    ];
    for (const n of [1, 2, 3, 6, 7, 12, 100]) {
      for (const v of values) {
        expect(placement.partitionOf(v, n), `${v} of ${n}`).toBe(keyedPartition(v, n));
        // The second time the hash comes from the cache.
        expect(placement.partitionOf(v, n)).toBe(keyedPartition(v, n));
      }
    }
  });

  it('gives the Java client hash for known inputs', () => {
    // Values of org.apache.kafka.common.utils.Utils.murmur2 (the Java client's own test).
    expect(murmur2('21')).toBe(-973932308);
    expect(murmur2('foobar')).toBe(-790332482);
    expect(murmur2('a-little-bit-long-string')).toBe(-985981536);
    expect(murmur2('a-little-bit-longer-string')).toBe(-1486304829);
    expect(murmur2('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')).toBe(-58897971);
  });

  it('starts its cache over past 10,000 distinct values and still places them the same', () => {
    const placement = new Placement();
    for (let i = 0; i < 10_050; i++) expect(placement.partitionOf(`v${i}`, 6)).toBe(keyedPartition(`v${i}`, 6));
    expect(placement.partitionOf('v0', 6)).toBe(keyedPartition('v0', 6));
  });
});

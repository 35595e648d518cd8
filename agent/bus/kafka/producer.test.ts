import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../../core/event.js';
import { ackedPrefix, cachingPartitioner } from './producer.js';

const ev = (id: string): LogEvent => ({
  id,
  timestamp: 0,
  message: 'm',
  service: 's',
  module: 'm',
  host: 'h',
  source: { kind: 'file' },
  fields: {},
});

describe('ackedPrefix', () => {
  it('skips the acked events when the same transaction comes back', () => {
    expect(ackedPrefix(['a', 'b'], ['a', 'b', 'c'].map(ev))).toBe(2);
    expect(ackedPrefix(['a', 'b', 'c'], ['a', 'b', 'c'].map(ev))).toBe(3);
  });

  it('skips nothing for another batch', () => {
    expect(ackedPrefix([], ['a'].map(ev))).toBe(0);
    expect(ackedPrefix(['a', 'b'], ['a', 'x', 'c'].map(ev))).toBe(0);
    expect(ackedPrefix(['a', 'b'], ['a'].map(ev))).toBe(0);
  });
});

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

  it('honours an explicit partition', () => {
    expect(cachingPartitioner()({ topic: 't', partitionMetadata: meta(4), message: { key: 'k', value: 'v', partition: 3 } })).toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { BATCH_NUMBERS, ProduceBatch, SLOT } from './produce-batch.js';

describe('ProduceBatch', () => {
  it('keeps each value (UTF-8) and key back to back, with its numbers, and is full at 1,024 records or 256 KiB', () => {
    const b = new ProduceBatch();
    const headers = [{ service: Buffer.from('shop') }];
    expect(b.add('logs', null, 'héllo', Buffer.from('k1'), headers, 7)).toBe(6);
    expect(b.add('other', 3, '{"v":1}', null, undefined, 8)).toBe(7);
    expect(Buffer.from(b.value(0)).toString()).toBe('héllo');
    expect(b.key(0)?.toString()).toBe('k1');
    expect(Buffer.from(b.value(1)).toString()).toBe('{"v":1}');
    expect(b.key(1)).toBeNull();
    expect(b.topics).toEqual(['logs', 'other']);
    expect(b.headers).toEqual([headers, undefined]);
    const second = [...b.layout.subarray(BATCH_NUMBERS, 2 * BATCH_NUMBERS)];
    expect([second[SLOT.PARTITION], second[SLOT.VALUE_AT], second[SLOT.KEY_BYTES], second[SLOT.SEQUENCE]]).toEqual([3, 8, -1, 8]);
    expect(b.layout[SLOT.PARTITION]).toBe(-1);
    expect(b.full).toBe(false);
    for (let i = 2; i < 1024; i++) b.add('logs', null, 'x', null, undefined, i);
    expect(b.full).toBe(true);
    b.clear();
    expect([b.count, b.topics.length, b.full]).toEqual([0, 0, false]);
    b.add('logs', null, 'y'.repeat(256 * 1024), null, undefined, 0);
    expect(b.full).toBe(true);
  });

  it('grows for an event larger than its buffer, and lets a very large buffer go at the next batch', () => {
    const b = new ProduceBatch();
    b.add('logs', null, 'a', null, undefined, 0);
    const big = 'z'.repeat(5 * 1024 * 1024);
    b.add('logs', null, big, Buffer.from('key'), undefined, 1);
    expect(Buffer.from(b.value(0)).toString()).toBe('a');
    expect(Buffer.from(b.value(1)).toString()).toBe(big);
    expect(b.key(1)?.toString()).toBe('key');
    expect(b.data.length).toBeGreaterThan(5 * 1024 * 1024);
    b.clear();
    expect(b.data.length).toBeLessThan(1024 * 1024);
  });
});

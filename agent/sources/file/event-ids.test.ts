import { describe, expect, test } from 'vitest';
import { fileEventId } from '../../../core/event-id.js';
import { FileEventIds } from './event-ids.js';

describe('FileEventIds', () => {
  test('gives exactly core fileEventId for every offset shape', () => {
    for (const fileId of ['65024:9978727:d5c66a003f524078', '1:2:', '18446744073:99999999999:ffffffffffffffff', 'x'.repeat(40)]) {
      const ids = new FileEventIds(fileId);
      const offsets = [0, 1, 9, 10, 199, 200, 12345, 2 ** 31, 2 ** 32 + 7, 1e15 + 3, 9_999_999_999_999_999, Number.MAX_SAFE_INTEGER];
      for (let i = 0; i < 2000; i++) offsets.push(Math.floor(Math.random() * 2 ** 40));
      for (const o of offsets) expect(ids.id(o), `${fileId} @ ${o}`).toBe(fileEventId(fileId, o));
    }
  });

  test('long file ids fall back to core and still agree', () => {
    const fileId = 'y'.repeat(200);
    const ids = new FileEventIds(fileId);
    expect(ids.id(42)).toBe(fileEventId(fileId, 42));
  });
});

import { describe, expect, it } from 'vitest';
import { encodeRecord, readLedger } from './lanes.js';

describe('lane ledger records', () => {
  it('reads every whole record (the last length of a file wins) and ignores a record torn by its writer dying', () => {
    const first = encodeRecord(new Map([['/t/.a.000001.log.inprogress', 0]]), new Uint32Array(0));
    const second = encodeRecord(new Map([['/t/.a.000001.log.inprogress', 120]]), Uint32Array.of(1, 2, 3, 4, 5, 6));
    const third = encodeRecord(new Map([['/t/.a.000001.log.inprogress', 240]]), Uint32Array.of(7, 8, 9));
    const files = new Map<string, number>();
    const chunks: Uint32Array[] = [];
    readLedger(Buffer.concat([first, second, third.subarray(0, third.length - 1)]), files, chunks);
    expect([...files]).toEqual([['/t/.a.000001.log.inprogress', 120]]);
    expect(chunks.map((c) => [...c])).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  it('stops at a record whose checksum does not match', () => {
    const good = encodeRecord(new Map([['/t/f', 10]]), Uint32Array.of(1, 2, 3));
    const bad = encodeRecord(new Map([['/t/f', 20]]), Uint32Array.of(4, 5, 6));
    bad[bad.length - 1]! ^= 0xff;
    const files = new Map<string, number>();
    const chunks: Uint32Array[] = [];
    readLedger(Buffer.concat([good, bad, good]), files, chunks);
    expect(files.get('/t/f')).toBe(10);
    expect(chunks).toHaveLength(1);
  });

  it('drops a file a later record gives length -1 (finished), and names it again when a record does', () => {
    const files = new Map<string, number>();
    const chunks: Uint32Array[] = [];
    const records = [
      encodeRecord(
        new Map([
          ['/t/.a.000001.log.inprogress', 120],
          ['/t/.b.000001.log.inprogress', 50],
        ]),
        new Uint32Array(0),
      ),
      encodeRecord(new Map([['/t/.a.000001.log.inprogress', -1]]), new Uint32Array(0)),
    ];
    readLedger(Buffer.concat(records), files, chunks);
    expect([...files]).toEqual([['/t/.b.000001.log.inprogress', 50]]);
    readLedger(encodeRecord(new Map([['/t/.a.000001.log.inprogress', 0]]), new Uint32Array(0)), files, chunks);
    expect(files.get('/t/.a.000001.log.inprogress')).toBe(0);
  });
});

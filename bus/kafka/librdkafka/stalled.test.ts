import { describe, expect, it } from 'vitest';
import { Deliveries, STALLED } from './deliveries.js';
import type { NativeError } from './native.js';
import { StalledRecords } from './stalled.js';

const err = (code: number): NativeError => Object.assign(new Error(`code ${code}`), { code });
const report = (opaque: number) => ({ topic: 't', partition: 0, offset: opaque, opaque });

describe('Deliveries.giveUp', () => {
  it('fails the records not reported yet with STALLED and hands their later reports on one by one', async () => {
    const deliveries = new Deliveries();
    const send = deliveries.start(3);
    deliveries.report(null, report(send.base));
    const late: [number, NativeError | null][] = [];
    const outcome = send.giveUp((i, e) => late.push([i, e]));
    expect([...outcome.acked]).toEqual([1, 0, 0]);
    expect([...outcome.failed]).toEqual([
      [1, STALLED],
      [2, STALLED],
    ]);
    deliveries.report(null, report(send.base + 2));
    deliveries.report(err(5), report(send.base + 1));
    expect(late).toEqual([
      [2, null],
      [1, err(5)],
    ]);
    // A later send's reports are its own.
    const next = deliveries.start(1);
    deliveries.report(null, report(next.base));
    expect([...(await next.outcome).acked]).toEqual([1]);
    expect(late).toHaveLength(2);
  });

  it('tells the records still out of a send given up on when the producer goes away', () => {
    const deliveries = new Deliveries();
    const send = deliveries.start(2);
    const late: [number, NativeError | null][] = [];
    send.giveUp((i, e) => late.push([i, e]));
    deliveries.abandon(err(-1));
    expect(late).toEqual([
      [0, err(-1)],
      [1, err(-1)],
    ]);
  });
});

describe('StalledRecords', () => {
  it('makes an event sent again wait for its queued record, and forgets it once its report was used', async () => {
    const stalled = new StalledRecords();
    const reportA = stalled.hold('a');
    const claimed = stalled.claim('a');
    expect(claimed).toBeDefined();
    reportA(null);
    expect(await claimed).toBeNull();
    stalled.settled('a');
    expect(stalled.size).toBe(0);
    expect(stalled.claim('a')).toBeUndefined();
  });

  it('keeps a report that came while nothing waited for the next claim: acked is skipped, failed is produced again', async () => {
    const stalled = new StalledRecords();
    stalled.hold('acked')(null);
    stalled.hold('failed')(err(-195));
    expect(await stalled.claim('acked')).toBeNull();
    expect(stalled.claim('failed')).toBeUndefined();
    expect(stalled.size).toBe(0);
  });

  it('keeps a record whose claim gave up again, for the claim after that', async () => {
    const stalled = new StalledRecords();
    const reportA = stalled.hold('a');
    expect(stalled.claim('a')).toBeDefined();
    // That send stalled too: nothing settled; the next one claims the same record.
    const again = stalled.claim('a');
    reportA(null);
    expect(await again).toBeNull();
    expect(stalled.size).toBe(1);
    stalled.settled('a');
    expect(stalled.size).toBe(0);
  });

  it('fails every record still held when the producer is replaced, so that each is produced again; acked ones stay', async () => {
    const stalled = new StalledRecords();
    stalled.hold('a');
    // Acked while the old producer flushed on its way out.
    stalled.hold('b')(null);
    const waiting = stalled.claim('a');
    stalled.clear(err(-1));
    expect(await waiting).toEqual(err(-1));
    expect(stalled.size).toBe(1);
    expect(stalled.claim('a')).toBeUndefined();
    expect(await stalled.claim('b')).toBeNull();
  });
});

import type { DeliveryReport, NativeError } from './native.js';

/** The outcome of one send: which records were acked, and the error of each that failed. */
export interface SendOutcome {
  acked: Uint8Array;
  /** By record index: why it failed (reported, or refused by produce() itself). */
  failed: Map<number, NativeError>;
}

interface Tracker {
  base: number;
  count: number;
  remaining: number;
  acked: Uint8Array;
  failed: Map<number, NativeError>;
  done: (outcome: SendOutcome) => void;
}

/**
 * Matches librdkafka's delivery reports to the sends they belong to. Every record of a send
 * carries a sequence number as its opaque; librdkafka reports each record exactly once,
 * acked or failed (message.timeout.ms bounds the wait), so a send settles when all of its
 * records have reported, never while some may still be appended behind its back.
 */
export class Deliveries {
  private next = 0;
  private readonly open = new Set<Tracker>();

  /** A send of `count` records: the opaque of record i is `base + i`. */
  start(count: number): {
    base: number;
    outcome: Promise<SendOutcome>;
    failFrom: (index: number, err: NativeError) => void;
    failOne: (index: number, err: NativeError) => void;
  } {
    const base = this.next;
    this.next += count;
    let done: (outcome: SendOutcome) => void = () => {};
    const outcome = new Promise<SendOutcome>((resolve) => (done = resolve));
    const tracker: Tracker = { base, count, remaining: count, acked: new Uint8Array(count), failed: new Map(), done };
    if (count === 0) done({ acked: tracker.acked, failed: tracker.failed });
    else this.open.add(tracker);
    return {
      base,
      outcome,
      // Records from `index` on were never handed to librdkafka: they will not report.
      failFrom: (index, err) => {
        for (let i = index; i < count; i++) tracker.failed.set(i, err);
        tracker.remaining -= count - index;
        this.settleIfDone(tracker);
      },
      // produce() refused record `index` itself (too large for the client): it will not report.
      failOne: (index, err) => {
        tracker.failed.set(index, err);
        tracker.remaining--;
        this.settleIfDone(tracker);
      },
    };
  }

  report(err: NativeError | null, report: DeliveryReport): void {
    const seq = report.opaque;
    if (typeof seq !== 'number') return;
    for (const t of this.open) {
      if (seq < t.base || seq >= t.base + t.count) continue;
      if (err) t.failed.set(seq - t.base, err);
      else t.acked[seq - t.base] = 1;
      t.remaining--;
      this.settleIfDone(t);
      return;
    }
  }

  /** Settles every open send as failed (the producer is going away). */
  abandon(err: NativeError): void {
    for (const t of [...this.open]) {
      for (let i = 0; i < t.count; i++) if (t.acked[i] !== 1 && !t.failed.has(i)) t.failed.set(i, err);
      t.remaining = 0;
      this.settleIfDone(t);
    }
  }

  private settleIfDone(t: Tracker): void {
    if (t.remaining > 0) return;
    this.open.delete(t);
    t.done({ acked: t.acked, failed: t.failed });
  }
}

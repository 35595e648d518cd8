import type { DeliveryReport, NativeError } from './native.js';

/** What a record not reported when its send gave up (giveUp) fails with in that send's outcome. */
export const STALLED: NativeError = Object.assign(new Error('not acked within request_timeout; librdkafka keeps retrying it'), {
  code: -1,
  name: 'KafkaStalled',
});

/** `outcome`, or undefined if it took longer than `ms`: how long a send waits for librdkafka's reports. */
export async function within<T>(ms: number, outcome: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([outcome, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How many records one native producer was handed and has not reported yet, given up on or
 * not: an alone phase waits for them, so that librdkafka holds no other record that could
 * share a batch with the one produced alone.
 */
export class Unreported {
  private count = 0;
  /** Called when `count` comes down to 0, for the phase waiting in settled(). */
  private drained: (() => void) | undefined;

  handedOver(): void {
    this.count++;
  }

  reported(): void {
    if (--this.count === 0) this.drained?.();
  }

  /** Its producer was let go and never reports them: no phase waits for them. */
  clear(): void {
    this.count = 0;
    this.drained?.();
  }

  /** 0 once every record is reported, or how many still are not after `ms`. */
  async settled(ms: number): Promise<number> {
    if (this.count === 0) return 0;
    const reported = new Promise<true>((resolve) => (this.drained = () => resolve(true)));
    const done = await within(ms, reported);
    this.drained = undefined;
    return done ? 0 : this.count;
  }
}

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
  /** Set once the send gave up waiting: where the reports still to come go. */
  late?: (index: number, err: NativeError | null) => void;
}

/**
 * Matches librdkafka's delivery reports to the sends they belong to. Every record of a send
 * carries a sequence number as its opaque; librdkafka reports each record exactly once,
 * acked or failed, so a send settles when all of its records have reported. A send that
 * stops waiting first (giveUp) gets the reports still to come one by one: those records are
 * still queued and may yet be appended, so they are not forgotten.
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
    giveUp: (late: (index: number, err: NativeError | null) => void) => SendOutcome;
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
      // The outcome so far, the records not reported yet failed with `stalled`; their reports go to `late`.
      giveUp: (late) => {
        const outcome = { acked: tracker.acked.slice(), failed: new Map(tracker.failed) };
        if (tracker.remaining === 0) return outcome;
        for (let i = 0; i < count; i++) if (tracker.acked[i] !== 1 && !tracker.failed.has(i)) outcome.failed.set(i, STALLED);
        tracker.late = late;
        tracker.done = () => {};
        return outcome;
      },
    };
  }

  report(err: NativeError | null, report: DeliveryReport): void {
    const seq = report.opaque;
    if (typeof seq !== 'number') return;
    for (const t of this.open) {
      if (seq < t.base || seq >= t.base + t.count) continue;
      t.late?.(seq - t.base, err);
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
      for (let i = 0; i < t.count; i++)
        if (t.acked[i] !== 1 && !t.failed.has(i)) {
          t.late?.(i, err);
          t.failed.set(i, err);
        }
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

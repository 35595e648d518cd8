import type { NativeError } from './native.js';

interface Held {
  /** null once acked, the error once failed; undefined while librdkafka still holds it. */
  outcome: NativeError | null | undefined;
  reported: Promise<NativeError | null>;
  report: (err: NativeError | null) => void;
}

/**
 * Records of sends given up on (not all acked within request_timeout) that librdkafka still
 * holds and keeps retrying, by event id.
 *
 * Why they are not produced again: the idempotent producer retries a record with the same
 * producer id and sequence number until the broker answers, so the broker drops a copy it
 * already appended. A record produced a second time gets a new sequence number: if the first
 * one had reached the log before the broker went away (appended, ack lost), both stay. So
 * librdkafka's own wait is unbounded (message.timeout.ms 0) and the send's wait is bounded
 * here instead: the send fails (the forwarder rolls back and logs the outage), and when its
 * events come back, each one still held waits for the report of the record already queued.
 *
 * Bounded by the forwarder: only the events of the sends in flight can be held, and they
 * come back first after the rollback.
 */
export class StalledRecords {
  private readonly held = new Map<string, Held>();

  get size(): number {
    return this.held.size;
  }

  /** `id`'s record is still in librdkafka's queue: returns what its report, whenever it comes, is passed to. */
  hold(id: string): (err: NativeError | null) => void {
    let report!: (err: NativeError | null) => void;
    const reported = new Promise<NativeError | null>((resolve) => (report = resolve));
    const h: Held = { outcome: undefined, reported, report };
    this.held.set(id, h);
    return (err) => {
      if (h.outcome !== undefined) return;
      h.outcome = err;
      h.report(err);
    };
  }

  /**
   * An event sent again. undefined: it is not held, or its record failed: produce it. Else
   * the report of the record already queued (null: acked), which `settled` forgets.
   */
  claim(id: string): Promise<NativeError | null> | undefined {
    const h = this.held.get(id);
    if (!h) return undefined;
    if (h.outcome === undefined) return h.reported;
    this.held.delete(id);
    return h.outcome === null ? h.reported : undefined;
  }

  /** A claimed record's report was used: forgotten. */
  settled(id: string): void {
    const h = this.held.get(id);
    if (h && h.outcome !== undefined) this.held.delete(id);
  }

  /**
   * The producer is gone: nothing it still held will be reported, and those records are
   * produced again. Those it acked before it went (while it disconnected) stay settled.
   */
  clear(err: NativeError): void {
    for (const [id, h] of this.held) {
      if (h.outcome === null) continue;
      if (h.outcome === undefined) h.report(err);
      this.held.delete(id);
    }
  }
}

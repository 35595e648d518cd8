import type { LogEvent } from '../../core/event.js';

/**
 * What Kafka acked (or the dead-letter kept) of the last send that failed. The forwarder
 * rolls a failed send's transaction back and the channel hands the same events again, in
 * order; the events of it that are settled already (earlier requests of a multi-request
 * send, other partitions' records, records Kafka refused for good and the dead-letter took)
 * are not sent a second time. Ids are unique per event, so a settled id is settled whatever
 * batch it comes back in. Carried over retries until a send succeeds: a retry that fails
 * again still knows what the attempts before it settled.
 */
export class AckedMemory {
  private acked: ReadonlySet<string> | undefined;
  /** Ids the last take() skipped: settled by an earlier attempt of the send now under way. */
  private carried: readonly string[] = [];

  /** The send of `events` failed after those for which `wasAcked(i)` holds were settled. */
  failed(events: readonly LogEvent[], wasAcked: (index: number) => boolean): void {
    const ids = new Set<string>(this.carried);
    for (let i = 0; i < events.length; i++) if (wasAcked(i)) ids.add(events[i]!.id);
    this.acked = ids.size > 0 ? ids : undefined;
  }

  /** The events of `all` still to send (all of them unless the last send failed), forgetting the memory. */
  take(all: readonly LogEvent[]): { events: readonly LogEvent[]; skipped: number } {
    const acked = this.acked;
    this.acked = undefined;
    if (!acked) {
      this.carried = [];
      return { events: all, skipped: 0 };
    }
    const events: LogEvent[] = [];
    const carried: string[] = [];
    for (const e of all) {
      if (acked.has(e.id)) carried.push(e.id);
      else events.push(e);
    }
    this.carried = carried;
    return { events, skipped: carried.length };
  }
}

import type { LogEvent } from '../../core/event.js';

/**
 * What Kafka acked of the last send that failed. The forwarder rolls a failed send's
 * transaction back and the channel hands the same events again, in order; the events of
 * it that Kafka had already acked (earlier requests of a multi-request send, or other
 * partitions' records) are not sent a second time. Ids are unique per event, so an acked id
 * is in Kafka whatever batch it comes back in; the memory covers one retry only.
 */
export class AckedMemory {
  private acked: ReadonlySet<string> | undefined;

  /** The send of `events` failed after Kafka acked those for which `wasAcked(i)` holds. */
  failed(events: readonly LogEvent[], wasAcked: (index: number) => boolean): void {
    const ids = new Set<string>();
    for (let i = 0; i < events.length; i++) if (wasAcked(i)) ids.add(events[i]!.id);
    this.acked = ids.size > 0 ? ids : undefined;
  }

  /** The events of `all` still to send (all of them unless the last send failed), forgetting the memory. */
  take(all: readonly LogEvent[]): { events: readonly LogEvent[]; skipped: number } {
    const acked = this.acked;
    this.acked = undefined;
    if (!acked) return { events: all, skipped: 0 };
    const events = all.filter((e) => !acked.has(e.id));
    return { events, skipped: all.length - events.length };
  }
}

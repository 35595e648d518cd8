import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';

/** One send() as AckedMemory tracks it: the events to hand to Kafka, and those it skipped. */
export interface SendAttempt {
  /** The events still to send: those of the send less the ones settled by an earlier attempt. */
  readonly events: readonly LogEvent[];
  /** How many of the send's events were skipped as settled already. */
  readonly skipped: number;
  /** Start order among the sends of this producer. */
  readonly seq: number;
  /** Ids skipped by this attempt: settled again if its transaction comes back once more. */
  readonly carried: readonly string[];
}

/**
 * What Kafka settled (acked, or the dead-letter kept) of sends whose channel transactions
 * are rolled back and come again. The forwarder keeps several sends in flight; when one
 * fails it rolls back the oldest failed transaction, which takes every later one with it,
 * whether their sends failed or succeeded, and the channel hands the same events again in
 * order. The events of those transactions that are settled already (acked records of the
 * failed send, every record of a later send that succeeded, records refused for good and
 * kept by the dead-letter) are not sent a second time. Ids are unique per event, so a
 * settled id is settled whatever batch it comes back in; each is forgotten when an attempt
 * skips it, and remembered again if that attempt's transaction comes back once more.
 *
 * Which sends are rolled back follows from the forwarder's rules: sends start in take
 * order (`seq`); after a failure no send starts until every send in flight has settled
 * (the "round" ends), and then everything from the oldest failed one on is rolled back.
 * So in a round, the sends started after a failed one are rolled back, the ones before it
 * commit. A send that succeeds while an older one is still out is held as tentative until
 * it is known which way it goes. With one send at a time this is the plain case: what a
 * failed send settled is skipped when it comes back.
 */
export class AckedMemory {
  /** Settled ids of rolled-back transactions, waiting for their events to come back. */
  private readonly settled = new Set<string>();
  /** Sends in flight, by seq. */
  private readonly inFlight = new Set<number>();
  /** Sends that succeeded while an older one was in flight: ids by seq. */
  private readonly tentative = new Map<number, string[]>();
  /** The oldest send of this round that failed. */
  private failedAt: number | undefined;
  private nextSeq = 0;

  /** A send of `all` starts: the events still to send (all of them unless a rolled-back send settled some). */
  begin(all: readonly LogEvent[]): SendAttempt {
    const seq = this.nextSeq++;
    this.inFlight.add(seq);
    if (this.settled.size === 0) return { events: all, skipped: 0, seq, carried: [] };
    const events: LogEvent[] = [];
    const carried: string[] = [];
    for (const e of all) {
      if (this.settled.delete(e.id)) carried.push(e.id);
      else events.push(e);
    }
    return { events, skipped: carried.length, seq, carried };
  }

  /** Every event of the attempt was settled. */
  succeeded(attempt: SendAttempt): void {
    if (!this.inFlight.has(attempt.seq)) return;
    const all = () => true;
    if (this.failedAt !== undefined && attempt.seq > this.failedAt) this.remember(attempt, all);
    else if (this.olderInFlight(attempt.seq)) this.tentative.set(attempt.seq, this.ids(attempt, all));
    this.end(attempt);
  }

  /**
   * The attempt failed after the events for which `wasAcked(i)` holds were settled. An
   * attempt already reported (succeeded or failed) is left as it was.
   */
  failed(attempt: SendAttempt, wasAcked: (index: number) => boolean): void {
    if (!this.inFlight.has(attempt.seq)) return;
    this.remember(attempt, wasAcked);
    if (this.failedAt === undefined || attempt.seq < this.failedAt) this.failedAt = attempt.seq;
    // Sends after it that succeeded are rolled back with it.
    for (const [seq, ids] of this.tentative) {
      if (seq <= attempt.seq) continue;
      for (const id of ids) this.settled.add(id);
      this.tentative.delete(seq);
    }
    this.end(attempt);
  }

  private end(attempt: SendAttempt): void {
    this.inFlight.delete(attempt.seq);
    if (this.inFlight.size === 0) {
      // The round is over: whatever is still tentative commits; the next sends start afresh.
      this.tentative.clear();
      this.failedAt = undefined;
      return;
    }
    let oldest = Number.POSITIVE_INFINITY;
    for (const seq of this.inFlight) oldest = Math.min(oldest, seq);
    // Every send older than these succeeded (a failure would have claimed them): they commit.
    for (const seq of this.tentative.keys()) if (seq < oldest && this.failedAt === undefined) this.tentative.delete(seq);
  }

  private olderInFlight(seq: number): boolean {
    for (const s of this.inFlight) if (s < seq) return true;
    return false;
  }

  private remember(attempt: SendAttempt, wasAcked: (index: number) => boolean): void {
    for (const id of this.ids(attempt, wasAcked)) this.settled.add(id);
  }

  private ids(attempt: SendAttempt, wasAcked: (index: number) => boolean): string[] {
    const ids = [...attempt.carried];
    for (let i = 0; i < attempt.events.length; i++) if (wasAcked(i)) ids.push(attempt.events[i]!.id);
    return ids;
  }
}

/**
 * One send() of a producer: what a rolled-back send settled is skipped (and said so), the
 * rest goes to `attempt`, and the outcome is told to `memory`. An attempt that fails after
 * Kafka settled some of its events tells `memory.failed` which itself; a failure it did not
 * tell counts as nothing settled.
 */
export async function sendSkippingSettled(
  memory: AckedMemory,
  all: readonly LogEvent[],
  logger: Logger,
  attempt: (attempt: SendAttempt) => Promise<void>,
): Promise<void> {
  const a = memory.begin(all);
  if (a.skipped > 0)
    logger.info({ skipped: a.skipped, events: all.length }, 'not resending the events Kafka acked before the last send failed');
  try {
    await attempt(a);
    memory.succeeded(a);
  } catch (err) {
    memory.failed(a, () => false);
    throw err;
  }
}

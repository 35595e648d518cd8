import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';

/** One send as AckedMemory tracks it: the items to hand to Kafka, and those it skipped. */
export interface SendAttempt<T> {
  /** The items still to send: those of the send less the ones settled by an earlier attempt. */
  readonly items: readonly T[];
  /** How many of the send's items were skipped as settled already. */
  readonly skipped: number;
  /** Start order among the sends of this memory. */
  readonly seq: number;
  /** Ids skipped by this attempt: settled again if it comes back once more. */
  readonly carried: readonly string[];
}

/**
 * Which sends come back after one failed, as the caller retries them.
 * - `from-oldest-failed`: the forwarder's channel transactions. It rolls back the oldest
 *   failed transaction of a round and every later one with it, failed or not.
 * - `failed-only`: the collector's dead-letter writes. It writes again only the entries of
 *   the write that failed; a write that succeeded is done, whatever else failed meanwhile.
 */
export type ComeBack = 'from-oldest-failed' | 'failed-only';

/** Shared by the attempts that carry nothing: the common case allocates no array for it. */
const NONE: readonly string[] = [];

/**
 * What Kafka settled (acked, or the dead-letter kept) of sends that failed and come again.
 * When a send fails after Kafka acked part of it, the caller sends the same items again;
 * those settled already (acked records of the failed send, records refused for good and
 * kept by the dead-letter, and with `from-oldest-failed` every record of a later send that
 * succeeded but is rolled back with it) are not sent a second time. An item is known by its
 * id (`idOf`), unique per item, so a settled id is settled whatever batch it comes back in;
 * each is forgotten when an attempt skips it, and remembered again if that attempt fails too,
 * so the memory holds at most the items of the sends being retried. An item without an id
 * cannot be told from a new one: it is never skipped and never remembered.
 *
 * With `from-oldest-failed`, which sends are rolled back follows from the forwarder's rules:
 * sends start in take order (`seq`); after a failure no send starts until every send in
 * flight has settled (the "round" ends), and then everything from the oldest failed one on
 * is rolled back. So in a round, the sends started after a failed one are rolled back, the
 * ones before it commit. A send that succeeds while an older one is still out is held as
 * tentative until it is known which way it goes. With one send at a time this is the plain
 * case: what a failed send settled is skipped when it comes back, which is all
 * `failed-only` does.
 */
export class AckedMemory<T> {
  /** Settled ids of sends that come back, waiting for their items to come. */
  private readonly settled = new Set<string>();
  /** Sends in flight, by seq. */
  private readonly inFlight = new Set<number>();
  /** Sends that succeeded while an older one was in flight: ids by seq. */
  private readonly tentative = new Map<number, string[]>();
  /** The oldest send of this round that failed. */
  private failedAt: number | undefined;
  private nextSeq = 0;

  constructor(
    private readonly idOf: (item: T) => string | undefined,
    private readonly comeBack: ComeBack,
  ) {}

  /** A send of `all` starts: the items still to send (all of them unless a failed send settled some). */
  begin(all: readonly T[]): SendAttempt<T> {
    const seq = this.nextSeq++;
    this.inFlight.add(seq);
    if (this.settled.size === 0) return { items: all, skipped: 0, seq, carried: NONE };
    const items: T[] = [];
    const carried: string[] = [];
    for (const item of all) {
      const id = this.idOf(item);
      if (id !== undefined && this.settled.delete(id)) carried.push(id);
      else items.push(item);
    }
    return { items, skipped: carried.length, seq, carried };
  }

  /** Every item of the attempt was settled. */
  succeeded(attempt: SendAttempt<T>): void {
    if (!this.inFlight.has(attempt.seq)) return;
    if (this.comeBack === 'from-oldest-failed') {
      const all = () => true;
      if (this.failedAt !== undefined && attempt.seq > this.failedAt) this.remember(attempt, all);
      else if (this.olderInFlight(attempt.seq)) this.tentative.set(attempt.seq, this.ids(attempt, all));
    }
    this.end(attempt);
  }

  /**
   * The attempt failed after the items for which `wasAcked(i)` holds were settled. An
   * attempt already reported (succeeded or failed) is left as it was.
   */
  failed(attempt: SendAttempt<T>, wasAcked: (index: number) => boolean): void {
    if (!this.inFlight.has(attempt.seq)) return;
    this.remember(attempt, wasAcked);
    if (this.comeBack === 'from-oldest-failed') {
      if (this.failedAt === undefined || attempt.seq < this.failedAt) this.failedAt = attempt.seq;
      // Sends after it that succeeded are rolled back with it.
      for (const [seq, ids] of this.tentative) {
        if (seq <= attempt.seq) continue;
        for (const id of ids) this.settled.add(id);
        this.tentative.delete(seq);
      }
    }
    this.end(attempt);
  }

  private end(attempt: SendAttempt<T>): void {
    this.inFlight.delete(attempt.seq);
    // Nothing is tentative and no round is open: the sends stand alone.
    if (this.comeBack === 'failed-only') return;
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

  private remember(attempt: SendAttempt<T>, wasAcked: (index: number) => boolean): void {
    for (const id of this.ids(attempt, wasAcked)) this.settled.add(id);
  }

  private ids(attempt: SendAttempt<T>, wasAcked: (index: number) => boolean): string[] {
    const ids = [...attempt.carried];
    for (let i = 0; i < attempt.items.length; i++) {
      if (!wasAcked(i)) continue;
      const id = this.idOf(attempt.items[i]!);
      if (id !== undefined) ids.push(id);
    }
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
  memory: AckedMemory<LogEvent>,
  all: readonly LogEvent[],
  logger: Logger,
  attempt: (attempt: SendAttempt<LogEvent>) => Promise<void>,
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

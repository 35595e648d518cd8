import type { LogEvent } from '../../core/event.js';
import type { Transaction } from '../../core/pipeline.js';

export type ChannelState = 'new' | 'open' | 'closing' | 'closed';

/** What a channel does once the guard has checked that a transaction may finish. */
export interface TransactionHooks<S> {
  /**
   * Releases the transaction's events for good (disk: moves the durable pointer past them).
   * A rejection leaves the transaction open, so its commit can be tried again.
   */
  commit(state: S, events: number): Promise<void>;
  /** Returns the taker to where the transaction started: it and every later one are void. */
  rollback(state: S, events: number): Promise<void>;
}

type Status = 'open' | 'committing' | 'committed' | 'rolled back' | 'superseded' | 'abandoned';

interface Entry<S> {
  status: Status;
  readonly state: S;
  readonly count: number;
}

/** What take() returns when it gives up waiting (aborted, or the channel closed): nothing to commit. */
export const EMPTY_TRANSACTION: Transaction = Object.freeze({
  events: Object.freeze([]) as readonly LogEvent[],
  commit: async () => {},
  rollback: async () => {},
});

/**
 * The taker's side of the channel contract (core/pipeline.ts) as one state machine, which
 * every channel uses, so all of them refuse the same mistakes with the same words (Flume's
 * BasicTransactionSemantics does this for its channels):
 *
 *   take ──> open ──commit()──> committing ──> committed
 *              │                    └─(fails)─> open        (commit may be tried again)
 *              ├──rollback()──> rolled back  (and every later open one: superseded)
 *              └──close()─────> abandoned    (disk: delivered again after reopen)
 *
 * One take at a time. Several transactions may be open at once (a pipelined taker); they
 * commit in the order they were taken, one at a time. A rollback gives back its events and
 * those of every later transaction, in order, before anything newer; a rollback of a
 * superseded or abandoned transaction changes nothing.
 */
export class Transactions<S> {
  private readonly open: Entry<S>[] = [];
  private taking = false;
  /** Bumped by every rollback: a take whose collecting overlapped one must collect again. */
  epoch = 0;

  constructor(
    private readonly name: string,
    private readonly channelState: () => ChannelState,
    private readonly hooks: TransactionHooks<S>,
  ) {}

  /** Checks that a take may start and marks it running; the returned function ends it. */
  beginTake(max: number): () => void {
    const state = this.channelState();
    if (state !== 'open') throw new Error(`channel "${this.name}" is ${state === 'new' ? 'not open yet' : 'closed'}: take refused`);
    if (!Number.isSafeInteger(max) || max < 1) throw new Error(`channel "${this.name}": take(max) needs a positive integer, got ${max}`);
    if (this.taking)
      throw new Error(`channel "${this.name}": a take is already waiting; the channel has one taker, taking one batch at a time`);
    this.taking = true;
    return () => {
      this.taking = false;
    };
  }

  /** A transaction over `events`, after every open one. */
  begin(events: LogEvent[], state: S): Transaction {
    const entry: Entry<S> = { status: 'open', state, count: events.length };
    this.open.push(entry);
    return {
      events,
      commit: () => this.commit(entry),
      rollback: () => this.rollback(entry),
    };
  }

  /** The channel closed: open transactions are void (a commit in progress finishes first). */
  abandonAll(): void {
    for (const e of this.open) if (e.status === 'open') e.status = 'abandoned';
    this.open.length = 0;
  }

  private async commit(e: Entry<S>): Promise<void> {
    this.refuseFinished(e, 'commit');
    if (e.status === 'committing') throw new Error(`channel "${this.name}": this transaction's commit is already in progress`);
    if (this.channelState() !== 'open') throw this.closedError();
    if (this.open[0] !== e) {
      throw new Error(
        `channel "${this.name}": transactions commit in the order they were taken; ${this.open.indexOf(e)} older one(s) are not committed yet`,
      );
    }
    e.status = 'committing';
    try {
      await this.hooks.commit(e.state, e.count);
    } catch (err) {
      e.status = 'open';
      throw err;
    }
    e.status = 'committed';
    this.open.shift();
  }

  private async rollback(e: Entry<S>): Promise<void> {
    if (e.status === 'superseded' || e.status === 'abandoned') return;
    this.refuseFinished(e, 'rollback');
    if (e.status === 'committing') throw new Error(`channel "${this.name}": this transaction is being committed; it cannot be rolled back`);
    const at = this.open.indexOf(e);
    let events = 0;
    for (const later of this.open.slice(at)) {
      later.status = 'superseded';
      events += later.count;
    }
    e.status = 'rolled back';
    this.open.length = at;
    this.epoch++;
    await this.hooks.rollback(e.state, events);
  }

  private refuseFinished(e: Entry<S>, what: string): void {
    if (e.status === 'committed' || e.status === 'rolled back')
      throw new Error(`channel "${this.name}": ${what} refused: transaction already committed or rolled back`);
    if (e.status === 'superseded')
      throw new Error(
        `channel "${this.name}": ${what} refused: an earlier transaction was rolled back, and this one with it; its events are delivered again`,
      );
    if (e.status === 'abandoned') throw this.closedError();
  }

  private closedError(): Error {
    return new Error(`channel "${this.name}" is closed: transaction not committed; its events are delivered again after reopening`);
  }
}

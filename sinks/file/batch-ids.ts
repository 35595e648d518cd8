import type { LogEvent } from '../../core/event.js';
import { gatherKeys, hashId, ID_WORDS } from './id-window.js';
import type { WriteJournal } from './journal.js';

/**
 * The ids of the batch a sink is writing, against its write journal: hashed and claimed in
 * two tight passes before the events are grouped (the table probes of consecutive events
 * then overlap in the CPU instead of waiting one by one among the grouping work), and given
 * back when the batch, or the part of it not journaled, fails. Row i is the batch's event i.
 */
export class BatchIds {
  /** The hashed ids, ID_WORDS per event; reused, grown to the largest batch. */
  private keys = new Uint32Array(ID_WORDS * 1024);
  private dup = new Uint8Array(1024);
  private count = 0;
  /** Events of the batch the journal already has (or that came twice in it): not written. */
  skipped = 0;

  constructor(private readonly journal: WriteJournal) {}

  /** Claims the ids of `batch`; duplicate(i) then says which events to skip. */
  claim(batch: readonly LogEvent[]): void {
    const n = batch.length;
    if (this.dup.length < n) {
      this.keys = new Uint32Array(n * ID_WORDS);
      this.dup = new Uint8Array(n);
    }
    const keys = this.keys;
    for (let i = 0; i < n; i++) hashId(batch[i]!.id, keys, i * ID_WORDS);
    const dup = this.dup;
    const journal = this.journal;
    let skipped = 0;
    for (let i = 0; i < n; i++) {
      const d = journal.claim(keys, i * ID_WORDS) ? 0 : 1;
      dup[i] = d;
      skipped += d;
    }
    this.count = n;
    this.skipped = skipped;
  }

  duplicate(i: number): boolean {
    return this.dup[i] === 1;
  }

  /** The keys of these rows, for a journal record; without rows, the whole batch's (then nothing may have been skipped). */
  keysOf(rows?: readonly (readonly number[])[]): Uint32Array {
    if (rows === undefined) {
      if (this.skipped > 0) throw new Error('keysOf() of a whole batch with skipped events');
      return this.keys.subarray(0, this.count * ID_WORDS);
    }
    return gatherKeys(this.keys, rows);
  }

  /** Gives back the ids of these rows (without rows: of every event claimed) so the batch's retry writes them. */
  release(rows?: readonly (readonly number[])[]): void {
    if (rows !== undefined) {
      this.journal.release(gatherKeys(this.keys, rows));
      return;
    }
    for (let i = 0; i < this.count; i++) if (this.dup[i] === 0) this.journal.release(this.keys.subarray(i * ID_WORDS, (i + 1) * ID_WORDS));
  }
}

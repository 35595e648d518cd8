/**
 * When the events a channel holds were put, oldest first, as runs of (events, time) —
 * one per put (or per second of puts), so a batch costs one entry whatever its size. Commits release events from
 * the front in put order (rollbacks do not: the events stay buffered), so the first run
 * is always the oldest event not yet committed: what `sluice_channel_oldest_event_age_seconds`
 * shows, the figure that says a channel is stuck long before it is full.
 */
const GRAIN_MS = 1000;

export class PutTimes {
  private counts: number[] = [];
  private times: number[] = [];
  private head = 0;

  put(events: number, at: number): void {
    if (events <= 0) return;
    // Puts within a second of the run before join it: a long outage of small puts (one
    // event each) costs one entry per second, not per put. The run keeps its first time,
    // so the age is exact for its first event and at most a second too old for the others.
    const last = this.counts.length - 1;
    if (last >= this.head && at - this.times[last]! < GRAIN_MS) {
      this.counts[last]! += events;
      return;
    }
    this.counts.push(events);
    this.times.push(at);
  }

  commit(events: number): void {
    let left = events;
    while (left > 0 && this.head < this.counts.length) {
      const n = this.counts[this.head]!;
      if (n > left) {
        this.counts[this.head] = n - left;
        break;
      }
      left -= n;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.counts.length) {
      this.counts = this.counts.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  /** Nothing is buffered any more (the channel recounted and found none). */
  clear(): void {
    this.counts = [];
    this.times = [];
    this.head = 0;
  }

  /** When the oldest buffered event was put (ms), or undefined when none is. */
  oldest(): number | undefined {
    return this.head < this.times.length ? this.times[this.head] : undefined;
  }
}

import type { TailedFile } from './file.js';

/** A file whose changes the watcher announces is polled this many times less often. */
export const ANNOUNCED_POLL_FACTOR = 8;

/**
 * Which followed files a poll round looks at. Every look is a stat of the path and one of
 * the descriptor (and a read of the first bytes when the file changed), so at 250 ms over a
 * hundred files the poll alone was most of a trickle's syscalls, for changes the directory
 * watch had already announced.
 *
 * The evidence is per file, not per directory: a file whose last change was found by a look
 * an event led to is polled every ANNOUNCED_POLL_FACTOR × poll_interval, as a safety net
 * for an event that never comes (an inotify queue overflow drops events without a word).
 * A change the poll finds first means the watch does not announce this file (NFS, a
 * symbolic link to a directory that is not watched, a watch that failed, `watch: false`):
 * it is polled every poll_interval again until an event announces one of its changes. A
 * poll that merely ran before an event's callback costs one fast look until the next event.
 * A file renamed away (detached) is always polled: its directory may not be watched, and
 * rotate_wait counts from its last growth.
 */
export class PollSchedule {
  private readonly files = new WeakMap<TailedFile, { announced: boolean; lookedAt: number }>();

  constructor(private readonly interval: number) {}

  /** Whether the poll looks at `f` now. */
  due(f: TailedFile, now: number): boolean {
    const s = this.files.get(f);
    if (!s?.announced || f.state === 'detached') return true;
    return now - s.lookedAt >= this.interval * ANNOUNCED_POLL_FACTOR;
  }

  /** `f` was looked at (`byEvent`: because an event named it) and found `changed` or not. */
  lookedAt(f: TailedFile, now: number, changed: boolean, byEvent: boolean): void {
    const s = this.files.get(f);
    if (!s) this.files.set(f, { announced: changed && byEvent, lookedAt: now });
    else {
      s.lookedAt = now;
      if (changed) s.announced = byEvent;
    }
  }
}

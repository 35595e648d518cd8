import type { TailedFile } from './file.js';

/** A file whose changes the watcher announces is polled this many times less often… */
export const ANNOUNCED_POLL_FACTOR = 8;
/** …but at least this often (ms), so that a lost event costs a line at most that much, whatever poll_interval is short. */
export const ANNOUNCED_POLL_MAX = 2000;

/**
 * Which followed files a poll round looks at. Every look is a stat of the path and one of
 * the descriptor (and a read of the first bytes when the file changed), so at 250 ms over a
 * hundred files the poll alone was most of a trickle's syscalls, for changes the directory
 * watch had already announced.
 *
 * The evidence is per file, not per directory: a file whose last change was found by a look
 * an event led to is polled every ANNOUNCED_POLL_FACTOR × poll_interval (at most every
 * ANNOUNCED_POLL_MAX, never less often than poll_interval), as a safety net for an event
 * that never comes (an inotify queue overflow drops events without a word).
 * A change the poll finds first means the watch does not announce this file (NFS, a
 * symbolic link to a directory that is not watched, a watch that failed, `watch: false`):
 * it is polled every poll_interval again until an event announces one of its changes. The
 * poll may also have looked between the write and the callback of its event: an event-led
 * look right after a poll found a change, though it finds nothing new, is that event, and
 * announces the file again. A file renamed away (detached) is always polled: its directory
 * may not be watched, and rotate_wait counts from its last growth.
 */
export class PollSchedule {
  /** `pollFound`: the last look was the poll's and found a change, whose event may still be on its way. */
  private readonly files = new WeakMap<TailedFile, { announced: boolean; pollFound: boolean; lookedAt: number }>();

  private readonly slow: number;

  constructor(interval: number) {
    this.slow = Math.max(interval, Math.min(interval * ANNOUNCED_POLL_FACTOR, ANNOUNCED_POLL_MAX));
  }

  /** Whether the poll looks at `f` now. */
  due(f: TailedFile, now: number): boolean {
    const s = this.files.get(f);
    if (!s?.announced || f.state === 'detached') return true;
    return now - s.lookedAt >= this.slow;
  }

  /** `f` was looked at (`byEvent`: because an event named it) and found `changed` or not (undefined: it was not, after all). */
  lookedAt(f: TailedFile, now: number, changed: boolean | undefined, byEvent: boolean): void {
    if (changed === undefined) return;
    let s = this.files.get(f);
    if (!s) this.files.set(f, (s = { announced: false, pollFound: false, lookedAt: now }));
    s.lookedAt = now;
    if (byEvent) {
      if (changed || s.pollFound) s.announced = true;
    } else if (changed) s.announced = false;
    s.pollFound = changed && !byEvent;
  }
}

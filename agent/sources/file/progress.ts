import type { Logger } from '../../../core/log.js';
import { fileMetrics } from './metrics.js';

/** How often a backlog being read is logged. */
export const PROGRESS_EVERY_MS = 10_000;

/**
 * Progress through a backlog: bytes of the followed files not yet in the channel, large
 * files found at the first start or a source that was stopped for long. Once the lag
 * reaches `after` bytes a backlog begins: it is logged at once (its size), then every
 * `every` ms with done / total, the rate over the last interval and the time left at that
 * rate, and once more when the source has nothing left to read. `total` is what was
 * behind when it began plus whatever the files grew by since (done + lag), so done never
 * passes total and a file still being written shows as more to do, not as a rate.
 *
 * The same figures are gauges (`sluice_file_source_backlog_{done,total}_bytes`, 0 when no
 * backlog), which `sluice top` turns into a rate and an ETA.
 */
export class BacklogProgress {
  private backlog: { startedAt: number; done: number; loggedAt: number; loggedDone: number } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly label: { component: string },
    private readonly after: number,
    private readonly every = PROGRESS_EVERY_MS,
  ) {}

  /**
   * Called after every put and whenever the source has looked at its files: `lag` bytes
   * are behind, `done` bytes were made durable since the last call, `idle` when nothing is
   * left to read and no batch waits.
   */
  update(now: number, lag: number, files: number, done: number, idle: boolean): void {
    fileMetrics.lag.set(this.label, lag);
    let b = this.backlog;
    if (!b) {
      if (this.after <= 0 || lag < this.after || idle) return;
      b = this.backlog = { startedAt: now, done: 0, loggedAt: now, loggedDone: 0 };
      this.logger.info({ total_bytes: lag, files }, 'backlog to read');
    } else b.done += done;
    const total = b.done + lag;
    if (idle) {
      const seconds = (now - b.startedAt) / 1000;
      this.logger.info(
        { done_bytes: b.done, seconds: round(seconds), bytes_per_second: seconds > 0 ? Math.round(b.done / seconds) : null },
        'backlog read; caught up',
      );
      this.backlog = undefined;
      fileMetrics.backlogDone.set(this.label, 0);
      fileMetrics.backlogTotal.set(this.label, 0);
      return;
    }
    fileMetrics.backlogDone.set(this.label, b.done);
    fileMetrics.backlogTotal.set(this.label, total);
    if (now - b.loggedAt < this.every) return;
    const rate = ((b.done - b.loggedDone) * 1000) / (now - b.loggedAt);
    this.logger.info(
      {
        done_bytes: b.done,
        total_bytes: total,
        percent: total > 0 ? round((100 * b.done) / total) : 100,
        bytes_per_second: Math.round(rate),
        seconds_left: rate > 0 ? Math.round(lag / rate) : null,
        files,
      },
      'reading backlog',
    );
    b.loggedAt = now;
    b.loggedDone = b.done;
  }

  /** The source stopped: its series go (a reload that removes it leaves nothing stale). */
  remove(): void {
    this.backlog = undefined;
    fileMetrics.lag.remove(this.label);
    fileMetrics.backlogDone.remove(this.label);
    fileMetrics.backlogTotal.remove(this.label);
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

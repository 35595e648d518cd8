import type { Logger } from '../../../core/log.js';
import { BacklogProgress, PROGRESS_EVERY_MS } from '../../../core/progress.js';
import { fileMetrics } from './metrics.js';

/**
 * The file source's backlog: bytes of the followed files not yet in the channel (large
 * files found at the first start, or a source that was stopped for long), logged through
 * core/progress.ts once it reaches `progress_after`. The same figures are gauges
 * (`sluice_file_source_lag_bytes`, `sluice_file_source_backlog_{done,total}_bytes`, 0 when
 * no backlog), which `sluice top` turns into a rate and an ETA.
 */
export class FileBacklog {
  private readonly progress: BacklogProgress;

  constructor(
    logger: Logger,
    private readonly label: { component: string },
    after: number,
    every = PROGRESS_EVERY_MS,
  ) {
    this.progress = new BacklogProgress(
      logger,
      'bytes',
      after,
      { begin: 'backlog to read', during: 'reading backlog', end: 'backlog read; caught up' },
      every,
    );
  }

  /**
   * Called after every put and whenever the source has looked at its files: `lag` bytes
   * are behind, `done` bytes were made durable since the last call, `idle` when nothing is
   * left to read and no batch waits.
   */
  update(now: number, lag: number, files: number, done: number, idle: boolean): void {
    fileMetrics.lag.set(this.label, lag);
    const state = this.progress.update(now, lag, done, idle, { files });
    fileMetrics.backlogDone.set(this.label, state?.done ?? 0);
    fileMetrics.backlogTotal.set(this.label, state?.total ?? 0);
  }

  /** The source stopped: its series go (a reload that removes it leaves nothing stale). */
  remove(): void {
    this.progress.reset();
    fileMetrics.lag.remove(this.label);
    fileMetrics.backlogDone.remove(this.label);
    fileMetrics.backlogTotal.remove(this.label);
  }
}

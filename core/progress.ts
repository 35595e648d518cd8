import type { Logger } from './log.js';

/** How often a backlog being worked off is logged. */
export const PROGRESS_EVERY_MS = 10_000;

/** The log messages of one kind of backlog: when it begins, while it lasts, when it is gone. */
export interface ProgressMessages {
  begin: string;
  during: string;
  end: string;
}

/** Where a backlog stands: what was worked off since it began, and that plus what is still behind. */
export interface BacklogState {
  done: number;
  total: number;
}

/**
 * Progress through a backlog, for the logs: once what is behind (`lag`) reaches `after`
 * units a backlog begins and is logged at once (its size), then every `every` ms with done /
 * total, the rate over the last interval and the time left at that rate, and once more when
 * it is gone. `total` is done plus what is behind now, so done never passes total and a
 * source that keeps growing shows as more to do, not as a wrong rate. Field names carry the
 * unit (`done_bytes`, `records_per_second`). Used by the file source (bytes not yet in the
 * channel) and the Kafka consumer (records of its group not yet committed).
 */
export class BacklogProgress {
  private backlog: { startedAt: number; done: number; loggedAt: number; loggedDone: number } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly unit: 'bytes' | 'records',
    private readonly after: number,
    private readonly messages: ProgressMessages,
    private readonly every = PROGRESS_EVERY_MS,
  ) {}

  /**
   * `lag` units are behind now, `done` were worked off since the last call, `caughtUp` when
   * the backlog is over. Returns where the backlog stands, or undefined when there is none.
   */
  update(now: number, lag: number, done: number, caughtUp: boolean, context: Record<string, unknown> = {}): BacklogState | undefined {
    const u = this.unit;
    let b = this.backlog;
    if (!b) {
      if (this.after <= 0 || lag < this.after || caughtUp) return undefined;
      b = this.backlog = { startedAt: now, done: 0, loggedAt: now, loggedDone: 0 };
      this.logger.info({ [`total_${u}`]: lag, ...context }, this.messages.begin);
    } else b.done += done;
    if (caughtUp) {
      const seconds = (now - b.startedAt) / 1000;
      this.logger.info(
        { [`done_${u}`]: b.done, seconds: round(seconds), [`${u}_per_second`]: seconds > 0 ? Math.round(b.done / seconds) : null },
        this.messages.end,
      );
      this.backlog = undefined;
      return undefined;
    }
    const total = b.done + lag;
    if (now - b.loggedAt >= this.every) {
      const rate = ((b.done - b.loggedDone) * 1000) / (now - b.loggedAt);
      this.logger.info(
        {
          [`done_${u}`]: b.done,
          [`total_${u}`]: total,
          percent: total > 0 ? round((100 * b.done) / total) : 100,
          [`${u}_per_second`]: Math.round(rate),
          seconds_left: rate > 0 ? Math.round(lag / rate) : null,
          ...context,
        },
        this.messages.during,
      );
      b.loggedAt = now;
      b.loggedDone = b.done;
    }
    return { done: b.done, total };
  }

  /** Forgets a backlog in progress (the component stopped). */
  reset(): void {
    this.backlog = undefined;
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

import type { LogEvent } from '../core/event.js';
import { globMatcher } from '../core/template.js';
import { encodeEventString } from '../core/wire.js';

/**
 * `sluice tap`: events as they leave components (sources, transforms, the router's routes),
 * streamed to whoever asked, without touching the pipeline:
 *
 * - Nothing is done for a component nobody taps: `listening()` is one Set lookup, the
 *   price every batch pays.
 * - Sampled per subscriber and component by a token bucket (`rate` events per second,
 *   bursts up to one second's worth): a tap on a busy source shows a steady trickle and
 *   says how many it skipped, instead of flooding the terminal.
 * - A slow reader never slows the pipeline: once its output says it is behind (the API: its
 *   buffer is over a bound) or has no room for a line (a collector's worker: its credit with
 *   the supervisor is spent), a batch for it costs one addition, the count of events it
 *   missed, until it has caught up; it is then told that count. Nothing is queued for it.
 *
 * Each line is JSON: `{"component":"sources.app","event":{wire event}}`; a notice
 * `{"component":"sources.app","skipped":1234}` after events sampling left out; a notice
 * `{"dropped":1234}` once a reader that was behind caught up, with the events it missed
 * meanwhile (of every component it taps).
 */
export interface TapRequest {
  /** Tap point names or globs (`sources.*`); empty: every tap point. */
  components: string[];
  /** End the stream after this many events. */
  limit?: number;
  /** Most events per second and component sent to this subscriber. */
  rate: number;
}

/**
 * What became of a line: `true` written; `false` written, and the reader is now behind;
 * `'refused'` not written, for want of room (a worker's credit with its supervisor,
 * api/worker-ipc.ts): the reader is behind, and what the line would have said is kept to be
 * told later (the event counted as dropped, a `skipped` or `dropped` count kept whole).
 */
export type TapWritten = boolean | 'refused';

export interface TapOutput {
  /**
   * Offers one line; unless `true`, the tap offers nothing more until `drained()`. An output
   * relaying several sources (a collector's workers, api/group.ts) may still receive lines
   * already on their way, and must take them.
   */
  write(line: string): TapWritten;
  /** Called once the limit is reached, or the tap is closed. */
  end(): void;
}

interface Bucket {
  tokens: number;
  at: number;
  skipped: number;
}

interface Subscriber {
  matches(component: string): boolean;
  /** The declared tap points it matches: what publish looks up, rather than running the globs per batch. */
  points: Set<string>;
  out: TapOutput;
  limit: number;
  rate: number;
  sent: number;
  behind: boolean;
  /** Events missed while behind, not told yet. */
  dropped: number;
  buckets: Map<string, Bucket>;
  ended: boolean;
}

/** A tap asked for a name that matches no tap point: a 400 listing the tap points there are. */
export class TapRequestError extends Error {
  constructor(
    message: string,
    readonly tapPoints: string[],
  ) {
    super(message);
  }
}

export interface TapSubscription {
  close(): void;
  /** The reader caught up: it is told how many events it missed, and events are sent to it again. */
  drained(): void;
}

/** What the API taps: this process's `Taps`, or a collector's workers behind their supervisor (api/group.ts). */
export interface TapService {
  /** Throws (or rejects with) TapRequestError for a name that matches no tap point. */
  subscribe(request: TapRequest, out: TapOutput): TapSubscription | Promise<TapSubscription>;
  /** Ends every stream (the server is closing). */
  closeAll(): void;
}

/**
 * `sources.*` → a matcher; `*` is any run of characters, everything else literal. Matched
 * by globMatcher (pieces found in turn): as a regular expression, `****...!` backtracked
 * exponentially on the pipeline's own thread, one request freezing every hop.
 */
function matcher(patterns: string[]): (component: string) => boolean {
  if (patterns.length === 0) return () => true;
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const globs = patterns.filter((p) => p.includes('*')).map(globMatcher);
  return (c) => exact.has(c) || globs.some((g) => g(c));
}

export class Taps implements TapService {
  private readonly subscribers = new Set<Subscriber>();
  /** Tap points some subscriber listens to right now: the only thing the hot path reads. */
  private hot = new Set<string>();
  private readonly points = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A component whose output can be tapped. */
  declare(component: string): void {
    this.points.add(component);
    this.refresh();
  }

  undeclare(component: string): void {
    this.points.delete(component);
    this.refresh();
  }

  tapPoints(): string[] {
    return [...this.points].sort();
  }

  listening(component: string): boolean {
    return this.hot.has(component);
  }

  /** Throws TapRequestError when a name matches no tap point (a typo should not wait forever in silence). */
  subscribe(request: TapRequest, out: TapOutput): TapSubscription {
    for (const pattern of request.components) {
      const m = matcher([pattern]);
      if (![...this.points].some(m))
        throw new TapRequestError(
          `no tap point matches "${pattern}"; tap points: ${this.tapPoints().join(', ') || 'none'}`,
          this.tapPoints(),
        );
    }
    const sub: Subscriber = {
      matches: matcher(request.components),
      points: new Set(),
      out,
      limit: request.limit ?? Number.POSITIVE_INFINITY,
      rate: request.rate,
      sent: 0,
      behind: false,
      dropped: 0,
      buckets: new Map(),
      ended: false,
    };
    this.subscribers.add(sub);
    this.refresh();
    return {
      close: () => this.finish(sub),
      drained: () => this.caughtUp(sub),
    };
  }

  closeAll(): void {
    for (const sub of [...this.subscribers]) this.finish(sub);
  }

  /**
   * The hot path, for a component someone taps. Per subscriber and batch: a subscriber that
   * is behind costs one addition, and one whose sampling budget is spent is left at its
   * first event beyond the budget; only events it is sent are formatted.
   */
  publish(component: string, events: readonly LogEvent[]): void {
    if (!this.hot.has(component) || events.length === 0) return;
    let now: number | undefined;
    for (const sub of this.subscribers) {
      if (!sub.points.has(component)) continue;
      if (sub.behind) {
        sub.dropped += events.length;
        continue;
      }
      now ??= this.now();
      const bucket = this.bucket(sub, component, now);
      for (let i = 0; i < events.length; i++) {
        if (sub.ended) break;
        if (sub.behind) {
          sub.dropped += events.length - i;
          break;
        }
        // Tokens come back with time only, not within one batch.
        if (bucket.tokens < 1) {
          bucket.skipped += events.length - i;
          break;
        }
        if (bucket.skipped > 0) {
          const written = sub.out.write(`{"component":${JSON.stringify(component)},"skipped":${bucket.skipped}}\n`);
          if (written === 'refused') {
            this.refused(sub, events.length - i);
            break;
          }
          sub.behind = !written;
          bucket.skipped = 0;
        }
        const written = sub.out.write(`{"component":${JSON.stringify(component)},"event":${encodeEventString(events[i]!)}}\n`);
        if (written === 'refused') {
          this.refused(sub, events.length - i);
          break;
        }
        bucket.tokens--;
        sub.sent++;
        sub.behind = !written || sub.behind;
        if (sub.sent >= sub.limit) this.finish(sub);
      }
    }
  }

  private caughtUp(sub: Subscriber): void {
    if (sub.ended || !sub.behind) return;
    if (sub.dropped === 0) {
      sub.behind = false;
      return;
    }
    const written = sub.out.write(`{"dropped":${sub.dropped}}\n`);
    // Still no room: the count waits, whole, for the next time the reader caught up.
    if (written === 'refused') return;
    sub.dropped = 0;
    sub.behind = !written;
  }

  /** The output had no room for a line: the reader is behind from this event on, which is missed with the rest of its batch. */
  private refused(sub: Subscriber, missed: number): void {
    sub.behind = true;
    sub.dropped += missed;
  }

  private bucket(sub: Subscriber, component: string, now: number): Bucket {
    let b = sub.buckets.get(component);
    if (!b) sub.buckets.set(component, (b = { tokens: sub.rate, at: now, skipped: 0 }));
    else {
      b.tokens = Math.min(sub.rate, b.tokens + ((now - b.at) / 1000) * sub.rate);
      b.at = now;
    }
    return b;
  }

  private finish(sub: Subscriber): void {
    if (sub.ended) return;
    sub.ended = true;
    this.subscribers.delete(sub);
    this.refresh();
    sub.out.end();
  }

  private refresh(): void {
    const hot = new Set<string>();
    for (const sub of this.subscribers) {
      sub.points = new Set([...this.points].filter(sub.matches));
      for (const p of sub.points) hot.add(p);
    }
    this.hot = hot;
  }
}

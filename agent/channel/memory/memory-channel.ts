import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import { type Channel, PutAbortedError, type SourceCheckpoint, type Transaction } from '../../../core/pipeline.js';
import { type Settle, withdrawable } from '../withdrawable.js';
import { PutTimes } from '../age.js';
import { CheckpointChains } from '../checkpoints.js';
import { channelMetrics, removeChannelMetrics, reportOldestPut } from '../metrics.js';
import { type ChannelState, EMPTY_TRANSACTION, Transactions } from '../transactions.js';
import { Notifier } from '../wait.js';
import { eventBytes } from './size.js';

export interface MemoryChannelConfig {
  maxEvents: number;
  maxBytes: number;
}

interface WaitingPut {
  events: readonly LogEvent[];
  sizes: number[];
  bytes: number;
  checkpoint: SourceCheckpoint | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The events [start, end) of the channel's array a transaction holds. */
interface Span {
  start: number;
  end: number;
}

/**
 * A bounded in-memory channel: the same contract as the disk channel (put waits when
 * full, take/commit/rollback through the same transaction guard), minus durability. What
 * it holds is lost with the process, so a source's checkpoints are only as good as this
 * process's lifetime.
 */
export class MemoryChannel implements Channel {
  /**
   * Positions count every event ever put; `events[i]` is the one at position base + i.
   * Events from `head` on are held; [head, cursor) are out in open transactions.
   */
  private events: LogEvent[] = [];
  private sizes: number[] = [];
  private base = 0;
  private head = 0;
  private cursor = 0;
  private usedBytes = 0;
  private readonly waiting: WaitingPut[] = [];
  private readonly checkpoints = new Map<string, SourceCheckpoint>();
  private readonly chains: CheckpointChains;
  private readonly dataArrived = new Notifier();
  private readonly txns: Transactions<Span>;
  private state: ChannelState = 'new';
  private stopping: string | undefined;
  private fullSince: number | undefined;
  private readonly putTimes = new PutTimes();

  constructor(
    private readonly config: MemoryChannelConfig,
    private readonly name: string,
    private readonly logger: Logger,
  ) {
    this.chains = new CheckpointChains(logger);
    this.txns = new Transactions(name, () => this.state, {
      commit: async (span, count) => {
        for (let i = this.head; i < span.end; i++) this.usedBytes -= this.sizes[i - this.base]!;
        this.putTimes.commit(span.end - this.head);
        this.head = span.end;
        channelMetrics.committedEvents.inc({ component: this.name }, count);
        this.compact();
        this.admit();
      },
      rollback: async (span, count) => {
        this.cursor = span.start;
        channelMetrics.rolledBackEvents.inc({ component: this.name }, count);
        this.dataArrived.notify();
      },
    });
  }

  async open(): Promise<void> {
    if (this.state !== 'new') throw new Error(`channel "${this.name}": open() called twice`);
    this.state = 'open';
    reportOldestPut(this.name, () => this.putTimes.oldest());
    this.publish();
  }

  /** Events held and not yet committed (open transactions' included), and their approximate bytes. */
  stats(): { events: number; bytes: number } {
    return { events: this.held(), bytes: this.usedBytes };
  }

  lastCheckpoint(source: string): SourceCheckpoint | undefined {
    return this.checkpoints.get(source);
  }

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint, signal?: AbortSignal): Promise<void> {
    if (this.state !== 'open')
      throw new Error(`channel "${this.name}" is ${this.state === 'new' ? 'not open yet' : 'closed'}: put refused`);
    const sizes = events.map(eventBytes);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    if (events.length > this.config.maxEvents || bytes > this.config.maxBytes) {
      throw new Error(
        `channel "${this.name}": a batch of ${events.length} events (~${bytes} bytes) exceeds the channel's whole capacity ` +
          `(max_events ${this.config.maxEvents}, max_bytes ${this.config.maxBytes}); raise them or lower the source's batch size`,
      );
    }
    const enqueue = (settle: Settle) => {
      const pending = { events, sizes, bytes, checkpoint, resolve: settle.resolve, reject: settle.reject };
      this.waiting.push(pending);
      this.admit();
      if (this.stopping !== undefined) this.abortWaiting(this.stopping);
      return pending;
    };
    if (!signal) return new Promise<void>((resolve, reject) => void enqueue({ resolve, reject }));
    return withdrawable(signal, `channel "${this.name}": its source stopped while the batch waited for room; it reads the batch again`, {
      enqueue,
      withdraw: (pending) => {
        const i = this.waiting.indexOf(pending);
        if (i < 0) return false;
        this.waiting.splice(i, 1);
        this.admit();
        return true;
      },
    });
  }

  abortWaitingPuts(): void {
    if (this.state !== 'open') return;
    this.abortWaiting(`channel "${this.name}" is stopping: the batch was not stored; its source reads it again on its next start`);
  }

  async take(max: number, signal?: AbortSignal): Promise<Transaction> {
    const done = this.txns.beginTake(max);
    try {
      while (this.cursor >= this.base + this.events.length) {
        if (signal?.aborted || this.state !== 'open') return EMPTY_TRANSACTION;
        await this.dataArrived.wait(signal);
      }
    } finally {
      done();
    }
    const start = this.cursor;
    const end = Math.min(this.base + this.events.length, start + max);
    this.cursor = end;
    return this.txns.begin(this.events.slice(start - this.base, end - this.base), { start, end });
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.txns.abandonAll();
    const lost = this.held();
    if (lost > 0) this.logger.warn({ events: lost }, 'memory channel closed with undelivered events; they are not kept');
    this.abortWaiting(`channel "${this.name}" closed before the batch could be stored`);
    this.dataArrived.notify();
    removeChannelMetrics(this.name);
  }

  private abortWaiting(message: string): void {
    this.stopping ??= message;
    for (const p of this.waiting.splice(0)) p.reject(new PutAbortedError(message));
    this.publish();
  }

  private admit(): void {
    while (this.waiting.length > 0) {
      const p = this.waiting[0]!;
      if (this.held() + p.events.length > this.config.maxEvents || this.usedBytes + p.bytes > this.config.maxBytes) break;
      this.waiting.shift();
      for (let i = 0; i < p.events.length; i++) {
        this.events.push(p.events[i]!);
        this.sizes.push(p.sizes[i]!);
      }
      this.usedBytes += p.bytes;
      this.putTimes.put(p.events.length, Date.now());
      if (p.checkpoint) this.chains.apply('put', this.checkpoints, p.checkpoint);
      channelMetrics.putEvents.inc({ component: this.name }, p.events.length);
      p.resolve();
      this.dataArrived.notify();
    }
    this.publish();
  }

  private held(): number {
    return this.base + this.events.length - this.head;
  }

  /** Drops committed events from the front of the arrays once they are the larger part. */
  private compact(): void {
    const gone = this.head - this.base;
    if (gone > 4096 && gone * 2 > this.events.length) {
      this.events = this.events.slice(gone);
      this.sizes = this.sizes.slice(gone);
      this.base = this.head;
    }
  }

  private publish(): void {
    const component = this.name;
    channelMetrics.bufferedEvents.set({ component }, this.held());
    channelMetrics.bufferedBytes.set({ component }, this.usedBytes);
    channelMetrics.fillRatio.set({ component }, Math.max(this.held() / this.config.maxEvents, this.usedBytes / this.config.maxBytes));
    const full = this.waiting.length > 0;
    if (full && this.fullSince === undefined) {
      this.fullSince = Date.now();
      channelMetrics.full.set({ component }, 1);
      this.logger.warn(
        { events: this.held(), bytes: this.usedBytes, max_events: this.config.maxEvents, max_bytes: this.config.maxBytes },
        'memory channel full; puts wait and sources pause',
      );
    } else if (!full && this.fullSince !== undefined) {
      this.logger.info({ full_ms: Date.now() - this.fullSince }, 'memory channel has room again');
      this.fullSince = undefined;
      channelMetrics.full.set({ component }, 0);
    }
  }
}

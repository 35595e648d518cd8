import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { Channel, SourceCheckpoint, Transaction } from '../../../core/pipeline.js';
import { channelMetrics, removeChannelMetrics } from '../metrics.js';
import { Notifier } from '../wait.js';
import { eventBytes } from './size.js';
import { checkTake } from '../take-guard.js';

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
}

const emptyTransaction: Transaction = Object.freeze({
  events: Object.freeze([]) as readonly LogEvent[],
  commit: async () => {},
  rollback: async () => {},
});

/**
 * A bounded in-memory channel: the same contract as the disk channel (put waits when
 * full, take/commit/rollback), minus durability. What it holds is lost with the process,
 * so a source's checkpoints are only as good as this process's lifetime.
 */
export class MemoryChannel implements Channel {
  /** Events from `head` on are held; [head, cursor) are out in the open transaction. */
  private events: LogEvent[] = [];
  private sizes: number[] = [];
  private head = 0;
  private cursor = 0;
  private usedBytes = 0;
  private txnOpen = false;
  private taking = false;
  private readonly waiting: WaitingPut[] = [];
  private readonly checkpoints = new Map<string, SourceCheckpoint>();
  private readonly dataArrived = new Notifier();
  private state: 'new' | 'open' | 'closed' = 'new';
  private fullSince: number | undefined;

  constructor(
    private readonly config: MemoryChannelConfig,
    private readonly name: string,
    private readonly logger: Logger,
  ) {}

  async open(): Promise<void> {
    if (this.state !== 'new') throw new Error(`channel "${this.name}": open() called twice`);
    this.state = 'open';
    this.publish();
  }

  /** Events held and not yet committed (an open transaction's included), and their approximate bytes. */
  stats(): { events: number; bytes: number } {
    return { events: this.events.length - this.head, bytes: this.usedBytes };
  }

  lastCheckpoint(source: string): SourceCheckpoint | undefined {
    return this.checkpoints.get(source);
  }

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint): Promise<void> {
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
    return new Promise<void>((resolve) => {
      this.waiting.push({ events, sizes, bytes, checkpoint, resolve });
      this.admit();
    });
  }

  async take(max: number, signal?: AbortSignal): Promise<Transaction> {
    checkTake(this.name, this.state, max, this.txnOpen || this.taking);
    this.taking = true;
    try {
      while (this.cursor >= this.events.length) {
        if (signal?.aborted || this.state !== 'open') return emptyTransaction;
        await this.dataArrived.wait(signal);
      }
    } finally {
      this.taking = false;
    }
    const end = Math.min(this.events.length, this.cursor + max);
    const events = this.events.slice(this.cursor, end);
    this.cursor = end;
    this.txnOpen = true;
    let done = false;
    const finish = (): void => {
      if (done) throw new Error(`channel "${this.name}": transaction already committed or rolled back`);
      done = true;
      this.txnOpen = false;
    };
    return {
      events,
      commit: async () => {
        finish();
        for (let i = this.head; i < end; i++) this.usedBytes -= this.sizes[i]!;
        this.head = end;
        channelMetrics.committedEvents.inc({ component: this.name }, events.length);
        this.compact();
        this.admit();
      },
      rollback: async () => {
        finish();
        this.cursor = this.head;
        channelMetrics.rolledBackEvents.inc({ component: this.name }, events.length);
      },
    };
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    const lost = this.events.length - this.head;
    if (lost > 0) this.logger.warn({ events: lost }, `memory channel closed with ${lost} undelivered events; they are not kept`);
    for (const p of this.waiting.splice(0)) p.resolve();
    this.dataArrived.notify();
    removeChannelMetrics(this.name);
  }

  private admit(): void {
    while (this.waiting.length > 0) {
      const p = this.waiting[0]!;
      const held = this.events.length - this.head;
      if (held + p.events.length > this.config.maxEvents || this.usedBytes + p.bytes > this.config.maxBytes) break;
      this.waiting.shift();
      for (let i = 0; i < p.events.length; i++) {
        this.events.push(p.events[i]!);
        this.sizes.push(p.sizes[i]!);
      }
      this.usedBytes += p.bytes;
      if (p.checkpoint) this.checkpoints.set(p.checkpoint.source, p.checkpoint);
      channelMetrics.putEvents.inc({ component: this.name }, p.events.length);
      p.resolve();
      this.dataArrived.notify();
    }
    this.publish();
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
  }

  private publish(): void {
    const component = this.name;
    channelMetrics.bufferedEvents.set({ component }, this.events.length - this.head);
    channelMetrics.bufferedBytes.set({ component }, this.usedBytes);
    const full = this.waiting.length > 0;
    if (full && this.fullSince === undefined) {
      this.fullSince = Date.now();
      channelMetrics.full.set({ component }, 1);
      this.logger.warn(
        { events: this.events.length - this.head, bytes: this.usedBytes, maxEvents: this.config.maxEvents, maxBytes: this.config.maxBytes },
        'memory channel full: puts wait and sources pause until the bus sink catches up',
      );
    } else if (!full && this.fullSince !== undefined) {
      this.logger.info(
        { fullMs: Date.now() - this.fullSince },
        `memory channel has room again after ${Date.now() - this.fullSince} ms full`,
      );
      this.fullSince = undefined;
      channelMetrics.full.set({ component }, 0);
    }
  }
}

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Backoff } from '../../../core/backoff.js';
import { syncDir } from '../../../core/durable-file.js';
import type { LogEvent } from '../../../core/event.js';
import { type Logger, OutageLog } from '../../../core/log.js';
import { PutAbortedError, type SourceCheckpoint } from '../../../core/pipeline.js';
import { channelMetrics } from '../metrics.js';
import { Mutex } from '../wait.js';
import { releaseRecord } from './format/frame-pool.js';
import { FORMAT_VERSION, SEGMENT_HEADER } from './format/record.js';
import { SEGMENT_HEADER_BYTES } from './format/segment-file.js';
import type { Segment, SegmentSet } from './segments.js';

export interface WriterConfig {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  fsync: 'always' | number;
  retryBackoffMaxMs: number;
}

export interface PendingPut {
  frame: Buffer;
  events: readonly LogEvent[];
  checkpoint: SourceCheckpoint | undefined;
  /** Bytes held against max_bytes until written: the frame and a segment header it may need. */
  reserve: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A record the writer stored, at `off` of segment `seg`. */
export interface WrittenRecord {
  seg: number;
  off: number;
  length: number;
  events: readonly LogEvent[];
  checkpoint: SourceCheckpoint | undefined;
}

export interface WriterEvents {
  /** Records are on disk (durable with fsync: always); called before their puts resolve. */
  written(records: WrittenRecord[], events: number): void;
  /** Waiting puts need room and every byte on disk is committed: the position the taker has durably passed. */
  drained(): boolean;
  /** Full / blocked state or disk use changed. */
  changed(): void;
}

/**
 * The write side of the disk channel (Flume's LogFile.Writer, Vector's disk_v2 writer):
 * puts wait in order for room under max_bytes, then go out in groups, one writev and one
 * fdatasync per group and segment (group commit: concurrent puts share a sync). Segments
 * roll at segment_bytes. A failing disk (ENOSPC, EIO) blocks puts and is retried with
 * backoff until it works again. The taker never waits for any of this: it only hears of
 * records once they are written.
 */
export class SegmentWriter {
  private readonly waiting: PendingPut[] = [];
  private pending: PendingPut[] = [];
  private reservedBytes = 0;
  private flushing: Promise<void> | undefined;
  private readonly lock = new Mutex();
  private readonly retry = new AbortController();
  private readonly outage: OutageLog;
  private stopping: string | undefined;
  private closed = false;
  private rotating = false;
  private fullSince: number | undefined;
  private blockedSince: number | undefined;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly config: WriterConfig,
    private readonly segments: SegmentSet,
    private readonly component: string,
    private readonly logger: Logger,
    private readonly events: WriterEvents,
  ) {
    this.outage = new OutageLog(logger, { what: 'channel disk', fields: { path: config.dir } });
  }

  start(): void {
    if (typeof this.config.fsync === 'number') {
      this.syncTimer = setInterval(() => void this.periodicSync(), this.config.fsync);
      this.syncTimer.unref();
    }
  }

  /** Bytes on disk plus bytes of puts admitted and not yet written. */
  get diskBytes(): number {
    return this.segments.fileBytes + this.reservedBytes;
  }

  get full(): boolean {
    return this.fullSince !== undefined;
  }

  get blocked(): boolean {
    return this.blockedSince !== undefined;
  }

  put(p: PendingPut): void {
    if (this.stopping !== undefined && (this.waiting.length > 0 || !this.fits(p))) {
      p.reject(new PutAbortedError(this.stopping));
      return;
    }
    this.waiting.push(p);
    this.admit();
  }

  /** Takes `p` back if it is still waiting for room (not yet admitted to a write); false otherwise. */
  withdraw(p: PendingPut): boolean {
    const i = this.waiting.indexOf(p);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    // The puts behind it may fit now.
    this.admit();
    this.publishFull();
    return true;
  }

  /**
   * Stopping: puts waiting for room, later puts that would wait, and a group whose write
   * keeps failing are rejected with `message` instead of waiting.
   */
  abortWaiting(message: string): void {
    this.stopping ??= message;
    for (const p of this.waiting.splice(0)) p.reject(new PutAbortedError(message));
    this.retry.abort();
    this.publishFull();
  }

  /** Room may have been freed (a commit deleted segments): admit waiting puts. */
  admit(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!)) {
      const p = this.waiting.shift()!;
      this.reservedBytes += p.reserve;
      this.pending.push(p);
    }
    this.publishFull();
    if (this.pending.length > 0 && !this.flushing) this.startFlush();
    if (this.waiting.length > 0 && !this.rotating && this.reservedBytes === 0 && this.events.drained()) {
      this.rotating = true;
      void this.rotateIfDrained();
    }
  }

  /** Writes what was admitted, syncs and closes the active segment; waiting puts are rejected. */
  async close(message: string): Promise<void> {
    this.closed = true;
    this.abortWaiting(message);
    while (this.flushing !== undefined) await this.flushing;
    clearInterval(this.syncTimer);
    await this.syncing;
    await this.lock.run(async () => {
      const active = this.segments.active();
      if (!active?.fh) return;
      await active.fh
        .datasync()
        .catch((err: unknown) => this.logger.error({ path: active.path, err }, 'final fsync of the channel failed'));
      await active.fh.close();
      active.fh = undefined;
    });
  }

  private fits(p: PendingPut): boolean {
    return this.segments.fileBytes + this.reservedBytes + p.reserve <= this.config.maxBytes;
  }

  private startFlush(): void {
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.startFlush();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      await this.lock.run(() => this.writeGroup(group));
    }
  }

  /** Writes a group of records with one writev and one fsync per segment; retries disk errors with backoff. */
  private async writeGroup(group: PendingPut[]): Promise<void> {
    const backoff = new Backoff(50, this.config.retryBackoffMaxMs);
    let i = 0;
    while (i < group.length) {
      let seg = this.segments.active();
      try {
        if (seg && seg.size > SEGMENT_HEADER_BYTES && seg.size + group[i]!.frame.length > this.config.segmentBytes) {
          await this.seal(seg);
          seg = undefined;
        }
        seg ??= await this.createSegment();
        const bufs: Buffer[] = [];
        let bytes = 0;
        if (seg.size === 0) {
          bufs.push(SEGMENT_HEADER);
          bytes += SEGMENT_HEADER_BYTES;
        }
        let j = i;
        while (j < group.length && (j === i || seg.size + bytes + group[j]!.frame.length <= this.config.segmentBytes)) {
          bufs.push(group[j]!.frame);
          bytes += group[j]!.frame.length;
          j++;
        }
        await writevAll(seg.fh!, bufs, seg.size);
        if (this.config.fsync === 'always') {
          const stop = channelMetrics.fsyncSeconds.startTimer({ component: this.component });
          await seg.fh!.datasync();
          stop();
        } else {
          this.dirty = true;
        }
        if (seg.needsDirSync) {
          await syncDir(this.config.dir);
          seg.needsDirSync = false;
        }
        this.written(seg, group, i, j, bytes);
        i = j;
        backoff.reset();
      } catch (err) {
        if (seg?.fh) await seg.fh.truncate(seg.size).catch(() => {});
        const rest = group.slice(i);
        if (this.stopping !== undefined) {
          const reason = this.closed
            ? this.stopping
            : `${this.stopping} (the disk failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
          for (const p of rest) p.reject(new PutAbortedError(reason));
          this.reservedBytes -= rest.reduce((n, p) => n + p.reserve, 0);
          return;
        }
        if (this.blockedSince === undefined) {
          this.blockedSince = Date.now();
          channelMetrics.blocked.set({ component: this.component }, 1);
          this.events.changed();
        }
        this.outage.failed(err, { segment: seg?.path ?? this.segments.pathOf(this.segments.nextId), puts: rest.length });
        await backoff.sleep(this.retry.signal);
      }
    }
  }

  /** Bookkeeping once records [i, j) of a group are on disk (durable with fsync: always). */
  private written(seg: Segment, group: PendingPut[], i: number, j: number, bytes: number): void {
    let off = seg.size + (seg.size === 0 ? SEGMENT_HEADER_BYTES : 0);
    seg.size += bytes;
    seg.readable = seg.size;
    this.segments.fileBytes += bytes;
    const records: WrittenRecord[] = [];
    let events = 0;
    for (let k = i; k < j; k++) {
      const p = group[k]!;
      this.reservedBytes -= p.reserve;
      events += p.events.length;
      records.push({ seg: seg.id, off, length: p.frame.length, events: p.events, checkpoint: p.checkpoint });
      off += p.frame.length;
    }
    if (this.blockedSince !== undefined) {
      this.outage.ok({ blocked_ms: Date.now() - this.blockedSince });
      this.blockedSince = undefined;
      channelMetrics.blocked.set({ component: this.component }, 0);
    }
    this.events.written(records, events);
    for (let k = i; k < j; k++) {
      releaseRecord(group[k]!.frame);
      group[k]!.resolve();
    }
    // Reservations were conservative (a segment header each); what was left over may admit more.
    if (this.waiting.length > 0) this.admit();
  }

  private async createSegment(): Promise<Segment> {
    const id = this.segments.nextId;
    const path = this.segments.pathOf(id);
    const fh = await open(path, 'wx', 0o600);
    this.segments.nextId = id + 1;
    const seg: Segment = { id, path, size: 0, readable: 0, sealed: false, version: FORMAT_VERSION, fh, needsDirSync: true };
    this.segments.list.push(seg);
    return seg;
  }

  private async seal(seg: Segment): Promise<void> {
    if (seg.fh) {
      if (this.config.fsync !== 'always') await seg.fh.datasync();
      await seg.fh.close();
      seg.fh = undefined;
    }
    seg.sealed = true;
  }

  private async periodicSync(): Promise<void> {
    if (!this.dirty || this.syncing || this.closed) return;
    this.syncing = this.lock
      .run(async () => {
        const seg = this.segments.active();
        this.dirty = false;
        if (!seg?.fh) return;
        const stop = channelMetrics.fsyncSeconds.startTimer({ component: this.component });
        await seg.fh.datasync();
        stop();
      })
      .catch((err: unknown) => {
        this.dirty = true;
        this.logger.error({ path: this.config.dir, err }, 'periodic fsync of the channel failed');
      })
      .finally(() => (this.syncing = undefined));
    await this.syncing;
  }

  /**
   * With every byte committed, the active segment still counts against max_bytes until it
   * is replaced. If puts wait for space then, seal it and delete it (the durable pointer
   * is already at its end), or a channel smaller than two segments could wait forever.
   */
  private async rotateIfDrained(): Promise<void> {
    const before = this.segments.fileBytes;
    try {
      await this.lock.run(async () => {
        const seg = this.segments.active();
        if (!seg || this.waiting.length === 0 || this.reservedBytes > 0 || this.closed || !this.events.drained()) return;
        await this.seal(seg);
        await this.segments.deleteBefore(this.segments.nextId);
      });
    } catch (err) {
      this.logger.error({ path: this.config.dir, err }, 'channel could not start a new segment');
    }
    this.rotating = false;
    if (this.segments.fileBytes < before) {
      this.events.changed();
      this.admit();
    }
  }

  private publishFull(): void {
    const full = this.waiting.length > 0 && this.stopping === undefined;
    if (full && this.fullSince === undefined) {
      this.fullSince = Date.now();
      channelMetrics.full.set({ component: this.component }, 1);
      this.logger.warn(
        { path: this.config.dir, disk_bytes: this.diskBytes, max_bytes: this.config.maxBytes },
        'channel full; puts wait and sources pause',
      );
    } else if (!full && this.fullSince !== undefined) {
      this.logger.info({ path: this.config.dir, full_ms: Date.now() - this.fullSince }, 'channel has room again');
      this.fullSince = undefined;
      channelMetrics.full.set({ component: this.component }, 0);
    }
  }
}

/** writev that finishes short writes, at an explicit position so a retry overwrites the same bytes. */
async function writevAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let pos = position;
  for (;;) {
    const total = rest.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(rest, pos);
    if (bytesWritten >= total) return;
    pos += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}

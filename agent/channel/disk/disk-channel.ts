import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { Channel, SourceCheckpoint, Transaction } from '../../../core/pipeline.js';
import { WireFormatError } from '../../../core/wire.js';
import { channelMetrics, removeChannelMetrics } from '../metrics.js';
import { delay, Mutex, Notifier } from '../wait.js';
import {
  checkFrame,
  checkSegmentHeader,
  decodeRecordEvents,
  encodeRecord,
  findNextFrame,
  FORMAT_VERSION,
  guessVersion,
  parseSegmentName,
  readRecordHeader,
  releaseRecord,
  SEGMENT_HEADER,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from './format.js';
import { POINTER_FILE, readPointer, writePointer, type Pointer } from './pointer.js';
import { syncDir } from '../../../core/durable-file.js';
import { checkTake } from '../take-guard.js';

export interface DiskChannelConfig {
  /** Directory of the segments and the pointer; created if missing. */
  path: string;
  /** Bound on the bytes the channel occupies on disk; puts wait beyond it. */
  maxBytes: number;
  /** A segment is closed and a new one started once it would grow past this. */
  segmentBytes: number;
  /** 'always': put resolves after fdatasync. A number: fdatasync every that many ms, put resolves after write(). */
  fsync: 'always' | number;
  /** Recently put records kept decoded in memory so a taker that keeps up never re-reads and re-parses them. */
  readCacheBytes: number;
  /** Upper bound of the backoff between retries of a failing disk write. */
  retryBackoffMaxMs: number;
}

export interface DiskChannelStats {
  /** Events put and not yet committed (an open transaction's included). */
  events: number;
  /** Bytes of their records. */
  bytes: number;
  diskBytes: number;
  segments: number;
  full: boolean;
  blocked: boolean;
}

interface Segment {
  id: number;
  path: string;
  /** Bytes written (and, with fsync: always, durable). */
  size: number;
  /** Bytes a reader may read: durable records only, always at a record boundary. */
  readable: number;
  sealed: boolean;
  /** Format version of its records: segments written before an upgrade keep theirs. */
  version: number;
  fh?: FileHandle;
  needsDirSync: boolean;
}

/** (segment, byte offset of a record, events of that record already passed). */
interface Pos {
  seg: number;
  off: number;
  idx: number;
}

interface PendingPut {
  frame: Buffer;
  events: readonly LogEvent[];
  checkpoint: SourceCheckpoint | undefined;
  reserve: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface LoadedRecord {
  seg: number;
  off: number;
  length: number;
  events: readonly LogEvent[];
  checkpoint: SourceCheckpoint | undefined;
}

interface TxnState {
  done: boolean;
  count: number;
}

const READ_CHUNK_BYTES = 1 << 20;
/** Largest record length recovery believes; a bigger length field is damage, not a record. */
const MAX_RECORD_BYTES = 0x7fffffff;
const openDirs = new Set<string>();

/**
 * The disk channel: a write-ahead log of segment files between sources and the bus sink.
 *
 * put() appends one CRC-framed record per batch (events + the source's checkpoint) and
 * resolves once it is fsync'd; concurrent puts share one write and one fsync (group
 * commit). take() hands out the oldest uncommitted events; commit() moves the durable
 * pointer past them and deletes segments that are entirely committed, rollback() rewinds
 * to the pointer. Disk use never exceeds max_bytes: a put waits for space, which pauses
 * its source. After a crash, open() replays from the pointer, cuts off a torn tail and
 * skips damaged records, saying where and how many bytes.
 */
export class DiskChannel implements Channel {
  private readonly dir: string;
  private segments: Segment[] = [];
  private nextSegId = 1;
  private committed: Pos = { seg: 1, off: SEGMENT_HEADER_BYTES, idx: 0 };
  private cursor: Pos = { seg: 1, off: SEGMENT_HEADER_BYTES, idx: 0 };
  private committedCheckpoints = new Map<string, SourceCheckpoint>();
  private readonly checkpoints = new Map<string, SourceCheckpoint>();
  /** Checkpoints and bytes of the records the cursor entered/passed since the pointer. */
  private foldPending: SourceCheckpoint[] = [];
  private passedBytes = 0;
  private loaded: LoadedRecord | undefined;
  private txnOpen = false;
  private taking = false;

  private readonly waiting: PendingPut[] = [];
  private pending: PendingPut[] = [];
  private reservedBytes = 0;
  private fileBytes = 0;
  private bufferedEvents = 0;
  private bufferedBytes = 0;
  private flushing: Promise<void> | undefined;
  private dataVersion = 0;
  private readonly dataArrived = new Notifier();
  private readonly writeLock = new Mutex();
  private readonly pointerLock = new Mutex();

  private readonly cache: LoadedRecord[] = [];
  private cacheHead = 0;
  private cacheScan = 0;
  private cacheBytes = 0;
  private chunk: { seg: number; start: number; buf: Buffer } | undefined;
  private readBuf: Buffer | undefined;
  private reader: { seg: number; fh: FileHandle } | undefined;
  private readonly reportedDamage = new Set<string>();

  private state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  private readonly closeController = new AbortController();
  private rotating = false;
  private fullSince: number | undefined;
  private blockedSince: number | undefined;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private lockKey: string | undefined;

  constructor(
    private readonly config: DiskChannelConfig,
    private readonly name: string,
    private readonly logger: Logger,
  ) {
    this.dir = config.path;
  }

  stats(): DiskChannelStats {
    return {
      events: this.bufferedEvents,
      bytes: this.bufferedBytes,
      diskBytes: this.fileBytes + this.reservedBytes,
      segments: this.segments.length,
      full: this.fullSince !== undefined,
      blocked: this.blockedSince !== undefined,
    };
  }

  async open(): Promise<void> {
    if (this.state !== 'new') throw new Error(`channel "${this.name}": open() called twice`);
    await mkdir(this.dir, { recursive: true });
    await this.acquireLock();
    try {
      await this.recover();
    } catch (err) {
      this.releaseLock();
      throw err;
    }
    this.state = 'open';
    if (typeof this.config.fsync === 'number') {
      this.syncTimer = setInterval(() => void this.periodicSync(), this.config.fsync);
      this.syncTimer.unref();
    }
    this.publish();
  }

  lastCheckpoint(source: string): SourceCheckpoint | undefined {
    return this.checkpoints.get(source);
  }

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint): Promise<void> {
    if (this.state !== 'open')
      throw new Error(`channel "${this.name}" is ${this.state === 'new' ? 'not open yet' : 'closed'}: put refused`);
    if (events.length === 0 && checkpoint === undefined) return;
    const frame = encodeRecord(events, checkpoint);
    const reserve = frame.length + SEGMENT_HEADER_BYTES;
    if (reserve > this.config.maxBytes) {
      throw new Error(
        `channel "${this.name}": a batch of ${events.length} events encodes to ${frame.length} bytes, more than the ` +
          `channel's whole capacity (max_bytes ${this.config.maxBytes}); raise max_bytes or lower the source's batch size`,
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ frame, events, checkpoint, reserve, resolve, reject });
      this.admit();
    });
  }

  async take(max: number, signal?: AbortSignal): Promise<Transaction> {
    checkTake(this.name, this.state, max, this.txnOpen || this.taking);
    this.taking = true;
    try {
      for (;;) {
        if (this.state !== 'open') return emptyTransaction;
        const version = this.dataVersion;
        const events = await this.collect(max);
        if (events.length > 0) return this.transaction(events);
        if (signal?.aborted) return emptyTransaction;
        if (version === this.dataVersion) await this.dataArrived.wait(signal);
      }
    } finally {
      this.taking = false;
    }
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closeController.abort();
    for (const p of this.waiting.splice(0)) {
      p.reject(new Error(`channel "${this.name}" closed before the batch could be written`));
    }
    this.publishFull();
    this.dataArrived.notify();
    while (await this.flushing) await this.flushing;
    clearInterval(this.syncTimer);
    await this.syncing;
    await this.writeLock.run(async () => {
      const active = this.active();
      if (active?.fh) {
        await active.fh
          .datasync()
          .catch((err: NodeJS.ErrnoException) =>
            this.logger.error({ path: active.path, code: err.code }, `final fsync of ${active.path} failed: ${err.message}`),
          );
        await active.fh.close();
        active.fh = undefined;
      }
    });
    await this.pointerLock.run(async () => {});
    await this.reader?.fh.close();
    this.reader = undefined;
    this.chunk = undefined;
    this.readBuf = undefined;
    this.cache.length = 0;
    this.state = 'closed';
    this.releaseLock();
    removeChannelMetrics(this.name);
  }

  // ---- recovery ------------------------------------------------------------------------

  private async recover(): Promise<void> {
    const started = Date.now();
    const pr = await readPointer(this.dir);
    let pointer: Pointer | undefined;
    if (pr.kind === 'ok') pointer = pr.pointer;
    else if (pr.kind === 'damaged') {
      this.logger.error(
        { path: join(this.dir, 'pointer.json'), reason: pr.reason },
        `channel pointer ${join(this.dir, 'pointer.json')} is damaged (${pr.reason}); delivering every record still on disk ` +
          'again (duplicates are possible, nothing is lost) and forgetting source checkpoints of deleted segments',
      );
    }
    if (pointer) for (const [source, cp] of Object.entries(pointer.checkpoints)) this.committedCheckpoints.set(source, cp);

    const names = await readdir(this.dir);
    const ids = names
      .map(parseSegmentName)
      .filter((id): id is number => id !== undefined)
      .sort((a, b) => a - b);
    let events = 0;
    let records = 0;
    const recovered = new Map<string, SourceCheckpoint>();
    for (const id of ids) {
      const path = join(this.dir, segmentName(id));
      if (pointer && id < pointer.segment) {
        // Left behind by a crash between the pointer write and the delete.
        await unlink(path);
        continue;
      }
      const buf = await readFile(path);
      const header = checkSegmentHeader(buf);
      if (typeof header === 'object' && 'newerVersion' in header) {
        throw new Error(
          `channel "${this.name}": ${path} was written by a newer Sluice (channel format ${header.newerVersion}); ` +
            'this version cannot read it and leaves it untouched: run the newer version to drain it',
        );
      }
      const from = pointer && id === pointer.segment ? Math.max(pointer.offset, SEGMENT_HEADER_BYTES) : SEGMENT_HEADER_BYTES;
      let at = from;
      let segRecords = 0;
      let version = FORMAT_VERSION;
      if (header === 'foreign') {
        version = guessVersion(buf);
        this.reportDamage(
          path,
          id,
          0,
          Math.min(SEGMENT_HEADER_BYTES, buf.length),
          `segment header damaged; reading its records as format ${version}`,
        );
      } else if (header !== 'empty') {
        version = header.version;
      }
      if (header !== 'empty' && from > buf.length) {
        this.logger.error(
          { segment: path, offset: from, size: buf.length },
          `channel pointer points at byte ${from} of ${path}, but the file has only ${buf.length} bytes (shortened?); ` +
            'nothing of it is delivered again',
        );
      }
      let end = buf.length;
      while (header !== 'empty' && at < end) {
        const check = checkFrame(buf, at, end, MAX_RECORD_BYTES);
        if (check.kind === 'ok') {
          const where = `${path} at byte ${at}`;
          let count: number;
          let checkpoint: SourceCheckpoint | undefined;
          try {
            ({ count, checkpoint } = readRecordHeader(buf, at, where));
          } catch (err) {
            this.reportDamage(path, id, at, at + check.length, (err as Error).message);
            at += check.length;
            continue;
          }
          const skip = pointer && id === pointer.segment && at === pointer.offset ? Math.min(pointer.skip, count) : 0;
          events += count - skip;
          this.bufferedBytes += check.length;
          if (checkpoint) recovered.set(checkpoint.source, checkpoint);
          segRecords++;
          at += check.length;
          continue;
        }
        const next = findNextFrame(buf, at + 1, end, MAX_RECORD_BYTES);
        if (next >= 0) {
          this.reportDamage(path, id, at, next, check.kind === 'short' ? 'record runs past the next record' : check.reason);
          at = next;
          continue;
        }
        // Nothing intact follows: a torn or damaged tail. Cut it off so new data never sits after garbage.
        this.logger.error(
          { segment: path, offset: at, bytes: end - at, reason: check.kind === 'short' ? 'incomplete record' : check.reason },
          `torn tail in ${path} at byte ${at}: ${end - at} bytes cut off (${check.kind === 'short' ? 'incomplete record, e.g. a write cut short by a crash' : check.reason}); everything before it is recovered`,
        );
        channelMetrics.corruptBytes.inc({ component: this.name }, end - at);
        await truncate(path, at);
        end = at;
      }
      records += segRecords;
      if (segRecords === 0) {
        await unlink(path);
        continue;
      }
      this.segments.push({ id, path, size: end, readable: end, sealed: true, version, needsDirSync: false });
      this.fileBytes += end;
    }
    // A pointer write cut short by a crash (the older name was used before format 2).
    for (const tmp of [`.${POINTER_FILE}.tmp`, `${POINTER_FILE}.tmp`]) await unlink(join(this.dir, tmp)).catch(() => {});
    const maxId = ids.length > 0 ? ids[ids.length - 1]! : 0;
    this.nextSegId = Math.max(maxId + 1, pointer?.segment ?? 1);
    this.committed = this.normalize(
      pointer
        ? { seg: pointer.segment, off: Math.max(pointer.offset, SEGMENT_HEADER_BYTES), idx: pointer.skip }
        : { seg: 0, off: 0, idx: 0 },
    );
    // A skip recorded against a record that did not survive means nothing any more.
    if (!pointer || this.committed.seg !== pointer.segment || this.committed.off !== pointer.offset) this.committed.idx = 0;
    this.cursor = { ...this.committed };
    for (const cp of this.committedCheckpoints.values()) this.checkpoints.set(cp.source, cp);
    for (const cp of recovered.values()) this.checkpoints.set(cp.source, cp);
    this.bufferedEvents = events;
    if (pr.kind !== 'ok') await this.savePointer(this.committed, this.committedCheckpoints);
    await syncDir(this.dir);
    this.logger.info(
      { path: this.dir, segments: this.segments.length, records, events, bytes: this.bufferedBytes, ms: Date.now() - started },
      `channel opened: ${events} events to deliver in ${this.segments.length} segments`,
    );
  }

  private reportDamage(path: string, seg: number, from: number, to: number, reason: string): void {
    this.reportedDamage.add(`${seg}:${from}`);
    channelMetrics.corruptBytes.inc({ component: this.name }, to - from);
    this.logger.error(
      { segment: path, offset: from, bytes: to - from, reason },
      `damaged data in ${path} at byte ${from}: ${to - from} bytes skipped (${reason}); the records around it are delivered`,
    );
  }

  // ---- write path ----------------------------------------------------------------------

  /** Moves waiting puts into the write queue, in order, while they fit under max_bytes. */
  private admit(): void {
    while (this.waiting.length > 0) {
      const p = this.waiting[0]!;
      if (this.fileBytes + this.reservedBytes + p.reserve > this.config.maxBytes) break;
      this.waiting.shift();
      this.reservedBytes += p.reserve;
      this.pending.push(p);
    }
    this.publishFull();
    if (this.pending.length > 0 && !this.flushing) this.startFlush();
    if (this.waiting.length > 0 && !this.rotating && this.reservedBytes === 0 && this.drained()) {
      this.rotating = true;
      void this.rotateIfDrained();
    }
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
      await this.writeLock.run(() => this.writeGroup(group));
    }
  }

  /** Writes a group of records with one writev and one fsync per segment; retries disk errors with backoff. */
  private async writeGroup(group: PendingPut[]): Promise<void> {
    let backoff = 50;
    let i = 0;
    while (i < group.length) {
      let seg = this.active();
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
          const stop = channelMetrics.fsyncSeconds.startTimer({ component: this.name });
          await seg.fh!.datasync();
          stop();
        } else {
          this.dirty = true;
        }
        if (seg.needsDirSync) {
          await syncDir(this.dir);
          seg.needsDirSync = false;
        }
        this.written(seg, group, i, j, bytes);
        i = j;
        backoff = 50;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const path = seg?.path ?? join(this.dir, segmentName(this.nextSegId));
        if (seg?.fh) await seg.fh.truncate(seg.size).catch(() => {});
        if (this.state !== 'open') {
          const failure = new Error(
            `channel "${this.name}" closed while writing to ${path} failed (${e.code ?? e.message}); the batch was not stored`,
          );
          for (const p of group.slice(i)) p.reject(failure);
          this.reservedBytes -= group.slice(i).reduce((n, p) => n + p.reserve, 0);
          return;
        }
        if (this.blockedSince === undefined) {
          this.blockedSince = Date.now();
          channelMetrics.blocked.set({ component: this.name }, 1);
        }
        this.logger.error(
          { path, code: e.code, retryInMs: backoff },
          `cannot write channel segment ${path}: ${e.code ?? ''} ${e.message}; puts wait (sources paused) and the write is retried`,
        );
        await delay(backoff, this.closeController.signal);
        backoff = Math.min(backoff * 2, this.config.retryBackoffMaxMs);
      }
    }
  }

  /** Bookkeeping once records [i, j) of a group are on disk (durable with fsync: always). */
  private written(seg: Segment, group: PendingPut[], i: number, j: number, bytes: number): void {
    let offset = seg.size + (seg.size === 0 ? SEGMENT_HEADER_BYTES : 0);
    seg.size += bytes;
    seg.readable = seg.size;
    this.fileBytes += bytes;
    let events = 0;
    for (let k = i; k < j; k++) {
      const p = group[k]!;
      this.reservedBytes -= p.reserve;
      this.bufferedBytes += p.frame.length;
      events += p.events.length;
      if (p.checkpoint) this.checkpoints.set(p.checkpoint.source, p.checkpoint);
      if (this.cacheBytes + p.frame.length <= this.config.readCacheBytes) {
        this.cache.push({ seg: seg.id, off: offset, length: p.frame.length, events: p.events, checkpoint: p.checkpoint });
        this.cacheBytes += p.frame.length;
      }
      offset += p.frame.length;
    }
    this.bufferedEvents += events;
    channelMetrics.putEvents.inc({ component: this.name }, events);
    if (this.blockedSince !== undefined) {
      this.logger.warn(
        { path: seg.path, blockedMs: Date.now() - this.blockedSince },
        `channel writes to ${this.dir} work again; puts resume`,
      );
      this.blockedSince = undefined;
      channelMetrics.blocked.set({ component: this.name }, 0);
    }
    for (let k = i; k < j; k++) {
      releaseRecord(group[k]!.frame);
      group[k]!.resolve();
    }
    this.dataVersion++;
    this.dataArrived.notify();
    this.publish();
    // Reservations were conservative (a segment header each); what was left over may admit more.
    if (this.waiting.length > 0) this.admit();
  }

  private active(): Segment | undefined {
    const last = this.segments[this.segments.length - 1];
    return last && !last.sealed ? last : undefined;
  }

  private async createSegment(): Promise<Segment> {
    const id = this.nextSegId;
    const path = join(this.dir, segmentName(id));
    const fh = await open(path, 'wx');
    this.nextSegId = id + 1;
    const seg: Segment = { id, path, size: 0, readable: 0, sealed: false, version: FORMAT_VERSION, fh, needsDirSync: true };
    this.segments.push(seg);
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
    if (!this.dirty || this.syncing || this.state !== 'open') return;
    this.syncing = this.writeLock
      .run(async () => {
        const seg = this.active();
        this.dirty = false;
        if (!seg?.fh) return;
        const stop = channelMetrics.fsyncSeconds.startTimer({ component: this.name });
        await seg.fh.datasync();
        stop();
      })
      .catch((err: NodeJS.ErrnoException) => {
        this.dirty = true;
        this.logger.error({ path: this.dir, code: err.code }, `periodic fsync of the channel in ${this.dir} failed: ${err.message}`);
      })
      .finally(() => (this.syncing = undefined));
    await this.syncing;
  }

  /**
   * With every byte committed, the active segment still counts against max_bytes until it
   * is replaced. If puts wait for space then, start a fresh segment and delete the old
   * one, or a channel smaller than two segments could wait forever.
   */
  private async rotateIfDrained(): Promise<void> {
    let freed = false;
    try {
      await this.writeLock.run(async () => {
        const seg = this.active();
        if (!seg || this.waiting.length === 0 || this.reservedBytes > 0 || this.state !== 'open') return;
        const c = this.normalize(this.committed);
        if (c.seg !== seg.id || c.off < seg.size) return;
        const before = this.fileBytes;
        await this.seal(seg);
        await this.pointerLock.run(async () => {
          this.committed = this.normalize(this.committed);
          if (!this.txnOpen) this.cursor = { ...this.committed };
          await this.savePointer(this.committed, this.committedCheckpoints);
          await this.deleteCommittedSegments();
        });
        freed = this.fileBytes < before;
      });
    } catch (err) {
      this.logger.error(
        { path: this.dir, code: (err as NodeJS.ErrnoException).code },
        `channel could not start a new segment: ${(err as Error).message}`,
      );
    }
    this.rotating = false;
    if (freed) this.admit();
  }

  // ---- read path -----------------------------------------------------------------------

  private transaction(events: LogEvent[]): Transaction {
    this.txnOpen = true;
    const state: TxnState = { done: false, count: events.length };
    return {
      events,
      commit: () => this.commit(state),
      rollback: () => this.rollback(state),
    };
  }

  private async collect(max: number): Promise<LogEvent[]> {
    const out: LogEvent[] = [];
    while (out.length < max) {
      const rec = await this.loadAtCursor();
      if (!rec) break;
      if (this.cursor.idx === 0 && rec.checkpoint) this.foldPending.push(rec.checkpoint);
      const from = Math.min(this.cursor.idx, rec.events.length);
      const n = Math.min(max - out.length, rec.events.length - from);
      for (let k = from; k < from + n; k++) out.push(rec.events[k]!);
      this.cursor.idx += n;
      if (this.cursor.idx >= rec.events.length) {
        this.passedBytes += rec.length;
        this.cursor = this.normalize({ seg: rec.seg, off: rec.off + rec.length, idx: 0 });
      }
    }
    return out;
  }

  /** The record at the cursor, from the cache or the segment file; undefined when no durable record is there yet. */
  private async loadAtCursor(): Promise<LoadedRecord | undefined> {
    for (;;) {
      this.cursor = this.normalize(this.cursor);
      const { seg: id, off } = this.cursor;
      if (this.loaded && this.loaded.seg === id && this.loaded.off === off) return this.loaded;
      const seg = this.segments.find((s) => s.id === id);
      if (!seg || off >= seg.readable) return undefined;
      const cached = this.cacheLookup(id, off);
      if (cached) return (this.loaded = cached);
      const rec = await this.readRecord(seg, off);
      if (rec) return (this.loaded = rec);
      // readRecord moved the cursor past damaged bytes; look again.
    }
  }

  private async readRecord(seg: Segment, off: number): Promise<LoadedRecord | undefined> {
    let chunk = await this.readChunk(seg, off, 0);
    let check = checkFrame(chunk.buf, off - chunk.start, chunk.buf.length, MAX_RECORD_BYTES);
    if (check.kind === 'short' && off + check.need <= seg.readable) {
      chunk = await this.readChunk(seg, off, check.need);
      check = checkFrame(chunk.buf, off - chunk.start, chunk.buf.length, MAX_RECORD_BYTES);
    }
    const where = `${seg.path} at byte ${off}`;
    if (check.kind === 'ok') {
      const at = off - chunk.start;
      try {
        const { count, checkpoint } = readRecordHeader(chunk.buf, at, where);
        const events = decodeRecordEvents(chunk.buf, at, check.length, count, seg.version, where);
        return { seg: seg.id, off, length: check.length, events, checkpoint };
      } catch (err) {
        if (!(err instanceof WireFormatError)) throw err;
        this.skipDamage(seg, off, off + check.length, err.message);
        return undefined;
      }
    }
    // Damage written after open (recovery already mapped older damage): find the next intact record.
    const rest = await this.readChunk(seg, off, seg.readable - off);
    const next = findNextFrame(rest.buf, off - rest.start + 1, rest.buf.length, MAX_RECORD_BYTES);
    this.skipDamage(seg, off, next >= 0 ? rest.start + next : seg.readable, check.kind === 'short' ? 'incomplete record' : check.reason);
    return undefined;
  }

  private skipDamage(seg: Segment, from: number, to: number, reason: string): void {
    if (!this.reportedDamage.has(`${seg.id}:${from}`)) this.reportDamage(seg.path, seg.id, from, to, reason);
    this.passedBytes += to - from;
    this.cursor = { seg: seg.id, off: to, idx: 0 };
  }

  /** Bytes [off, off + max(need, chunk)) of a segment, clipped to what is readable. */
  private async readChunk(seg: Segment, off: number, need: number): Promise<{ seg: number; start: number; buf: Buffer }> {
    const c = this.chunk;
    const want = Math.max(FRAME_HEADER_MIN, need);
    if (c && c.seg === seg.id && off >= c.start && off + want <= c.start + c.buf.length) return c;
    if (this.reader?.seg !== seg.id) {
      await this.reader?.fh.close();
      this.reader = undefined;
      this.reader = { seg: seg.id, fh: await open(seg.path, 'r') };
    }
    const length = Math.min(Math.max(READ_CHUNK_BYTES, need), seg.readable - off);
    // One buffer for the usual reads: decoding copies what it keeps, and a fresh MiB per read cost page faults.
    this.chunk = undefined;
    const buf = length <= READ_CHUNK_BYTES ? (this.readBuf ??= Buffer.allocUnsafeSlow(READ_CHUNK_BYTES)) : Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.reader.fh.read(buf, got, length - got, off + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.chunk = { seg: seg.id, start: off, buf: buf.subarray(0, got) };
    return this.chunk;
  }

  private cacheLookup(seg: number, off: number): LoadedRecord | undefined {
    let i = Math.max(this.cacheScan, this.cacheHead);
    if (i < this.cache.length && before({ seg, off }, this.cache[i]!)) i = this.cacheHead;
    while (i < this.cache.length && before(this.cache[i]!, { seg, off })) i++;
    this.cacheScan = i;
    const e = this.cache[i];
    return e && e.seg === seg && e.off === off ? e : undefined;
  }

  /** Forgets cached records the pointer has passed. */
  private dropCache(): void {
    const c = this.committed;
    while (this.cacheHead < this.cache.length && before(this.cache[this.cacheHead]!, c)) {
      this.cacheBytes -= this.cache[this.cacheHead]!.length;
      this.cacheHead++;
    }
    if (this.cacheHead > 1024 && this.cacheHead * 2 > this.cache.length) {
      this.cache.splice(0, this.cacheHead);
      this.cacheScan = Math.max(0, this.cacheScan - this.cacheHead);
      this.cacheHead = 0;
    }
  }

  private async commit(state: TxnState): Promise<void> {
    if (state.done) throw new Error(`channel "${this.name}": transaction already committed or rolled back`);
    if (this.state !== 'open') {
      throw new Error(`channel "${this.name}" is closed: transaction not committed; its events are delivered again after reopening`);
    }
    await this.pointerLock.run(async () => {
      const next = this.normalize(this.cursor);
      const merged = new Map(this.committedCheckpoints);
      for (const cp of this.foldPending) merged.set(cp.source, cp);
      await this.savePointer(next, merged);
      this.committed = next;
      this.committedCheckpoints = merged;
      state.done = true;
      this.txnOpen = false;
      this.foldPending = [];
      this.bufferedEvents -= state.count;
      this.bufferedBytes -= this.passedBytes;
      this.passedBytes = 0;
      if (this.drained()) {
        // Recomputed rather than trusted: damage skipped at run time cannot leave the gauges stuck above zero.
        this.bufferedEvents = 0;
        this.bufferedBytes = 0;
      }
      channelMetrics.committedEvents.inc({ component: this.name }, state.count);
      this.dropCache();
      await this.deleteCommittedSegments();
    });
    this.publish();
    this.admit();
  }

  private async rollback(state: TxnState): Promise<void> {
    if (state.done) throw new Error(`channel "${this.name}": transaction already committed or rolled back`);
    state.done = true;
    this.txnOpen = false;
    this.cursor = { ...this.committed };
    this.foldPending = [];
    this.passedBytes = 0;
    this.loaded = undefined;
    this.cacheScan = this.cacheHead;
    channelMetrics.rolledBackEvents.inc({ component: this.name }, state.count);
  }

  private drained(): boolean {
    const c = this.normalize(this.committed);
    const last = this.segments[this.segments.length - 1];
    return !last || c.seg > last.id || (c.seg === last.id && c.off >= last.size);
  }

  private async deleteCommittedSegments(): Promise<void> {
    const limit = this.committed.seg;
    const gone = new Set<Segment>();
    for (const seg of this.segments) {
      if (seg.id >= limit || !seg.sealed) break;
      try {
        await unlink(seg.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.logger.error(
            { path: seg.path, code: (err as NodeJS.ErrnoException).code },
            `cannot delete committed segment ${seg.path}: ${(err as Error).message}; retried at the next commit`,
          );
          break;
        }
      }
      gone.add(seg);
      this.fileBytes -= seg.size;
    }
    if (gone.size > 0) this.segments = this.segments.filter((s) => !gone.has(s));
  }

  private savePointer(pos: Pos, checkpoints: Map<string, SourceCheckpoint>): Promise<void> {
    return writePointer(this.dir, { segment: pos.seg, offset: pos.off, skip: pos.idx, checkpoints: Object.fromEntries(checkpoints) });
  }

  /**
   * Canonical form of a position: past the end of a sealed segment means the start of the
   * next one that exists (or the one the writer will create next).
   */
  private normalize(pos: Pos): Pos {
    let p = { ...pos };
    for (;;) {
      const seg = this.segments.find((s) => s.id >= p.seg);
      if (!seg)
        return p.seg >= this.nextSegId && p.off === SEGMENT_HEADER_BYTES ? p : { seg: this.nextSegId, off: SEGMENT_HEADER_BYTES, idx: 0 };
      if (seg.id > p.seg) p = { seg: seg.id, off: SEGMENT_HEADER_BYTES, idx: 0 };
      if (p.off < SEGMENT_HEADER_BYTES) p = { seg: p.seg, off: SEGMENT_HEADER_BYTES, idx: 0 };
      if (seg.sealed && p.off >= seg.size) {
        p = { seg: seg.id + 1, off: SEGMENT_HEADER_BYTES, idx: 0 };
        continue;
      }
      return p;
    }
  }

  // ---- state reporting -----------------------------------------------------------------

  private publish(): void {
    const component = this.name;
    channelMetrics.bufferedEvents.set({ component }, this.bufferedEvents);
    channelMetrics.bufferedBytes.set({ component }, this.bufferedBytes);
    channelMetrics.diskBytes.set({ component }, this.fileBytes + this.reservedBytes);
    channelMetrics.segments.set({ component }, this.segments.length);
  }

  private publishFull(): void {
    if (this.waiting.length > 0 && this.fullSince === undefined && this.state === 'open') {
      this.fullSince = Date.now();
      channelMetrics.full.set({ component: this.name }, 1);
      this.logger.warn(
        { path: this.dir, diskBytes: this.fileBytes + this.reservedBytes, maxBytes: this.config.maxBytes },
        `channel full (${this.fileBytes + this.reservedBytes} of ${this.config.maxBytes} bytes): puts wait and sources pause until the bus sink catches up`,
      );
    } else if (this.waiting.length === 0 && this.fullSince !== undefined) {
      this.logger.info(
        { path: this.dir, fullMs: Date.now() - this.fullSince },
        `channel has room again after ${Date.now() - this.fullSince} ms full; sources resume`,
      );
      this.fullSince = undefined;
      channelMetrics.full.set({ component: this.name }, 0);
    }
  }

  // ---- directory lock ------------------------------------------------------------------

  /** One process, one channel per directory: two writers would interleave records. */
  private async acquireLock(): Promise<void> {
    const key = resolve(this.dir);
    if (openDirs.has(key)) throw new Error(`channel "${this.name}": ${this.dir} is already used by another channel in this process`);
    const lock = join(this.dir, 'LOCK');
    try {
      const text = await readFile(lock, 'utf8');
      const pid = Number(text.trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(
          `channel "${this.name}": ${this.dir} is in use by process ${pid} (see ${lock}); if no Sluice runs there, delete that file`,
        );
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await writeFile(`${lock}.tmp`, `${process.pid}\n`);
    await rename(`${lock}.tmp`, lock);
    openDirs.add(key);
    this.lockKey = key;
  }

  private releaseLock(): void {
    if (this.lockKey === undefined) return;
    openDirs.delete(this.lockKey);
    this.lockKey = undefined;
    void unlink(join(this.dir, 'LOCK')).catch(() => {});
  }
}

const FRAME_HEADER_MIN = 12;

const emptyTransaction: Transaction = Object.freeze({
  events: Object.freeze([]) as readonly LogEvent[],
  commit: async () => {},
  rollback: async () => {},
});

function before(a: { seg: number; off: number }, b: { seg: number; off: number }): boolean {
  return a.seg < b.seg || (a.seg === b.seg && a.off < b.off);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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

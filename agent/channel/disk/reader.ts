import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { LogEvent } from '../../../core/event.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';
import { WireFormatError } from '../../../core/wire.js';
import { Mutex } from '../wait.js';
import type { DamageLog } from './damage.js';
import { checkFrame, FRAME_HEADER_BYTES, findNextFrame, readRecordHeader } from './format/frame.js';
import { decodeRecordEvents } from './format/record.js';
import { before, type Pos, type Segment, type SegmentSet } from './segments.js';
import type { WrittenRecord } from './writer.js';

/** What one take collected: its events and what the taker passes with them. */
export interface Taken {
  events: LogEvent[];
  /** Where the take started (a rollback returns here) and where it ended (a commit moves the pointer here). */
  start: Pos;
  end: Pos;
  /** Checkpoints of the records the take entered: committed with it. */
  checkpoints: SourceCheckpoint[];
  /** Bytes of the records it passed entirely, and of damage it skipped. */
  passedBytes: number;
}

const READ_CHUNK_BYTES = 1 << 20;
/** Enough of a record to learn its length. */
const FRAME_HEADER_MIN = FRAME_HEADER_BYTES;

/**
 * The read side of the disk channel (Flume's LogFile.RandomReader, Vector's disk_v2
 * reader): a cursor over the segments, ahead of the committed position by what open
 * transactions hold. Records the writer stored recently come from a cache of their
 * decoded events, so a taker that keeps up never reads or decodes; others are read from
 * the segment in 1 MiB chunks. Damage written after open is skipped and reported.
 */
export class SegmentReader {
  private cursor: Pos;
  private loaded: WrittenRecord | undefined;
  /** A collect that passed records but found no event: the next one continues it. */
  private carry: Taken | undefined;
  private readonly lock = new Mutex();

  private readonly cache: WrittenRecord[] = [];
  private cacheHead = 0;
  private cacheScan = 0;
  private cacheBytes = 0;
  private chunk: { seg: number; start: number; buf: Buffer } | undefined;
  private readBuf: Buffer | undefined;
  private file: { seg: number; fh: FileHandle } | undefined;

  constructor(
    private readonly segments: SegmentSet,
    private readonly damage: DamageLog,
    private readonly cacheLimit: number,
    start: Pos,
  ) {
    this.cursor = { ...start };
  }

  /** Keeps records just written, while they fit the cache. */
  remember(records: readonly WrittenRecord[]): void {
    for (const r of records) {
      if (this.cacheBytes + r.length > this.cacheLimit) return;
      this.cache.push(r);
      this.cacheBytes += r.length;
    }
  }

  /** Up to `max` events from the cursor on (fewer when fewer are written), moving the cursor past them. */
  collect(max: number): Promise<Taken> {
    return this.lock.run(async () => {
      this.cursor = this.segments.normalize(this.cursor);
      const taken: Taken = this.carry ?? { events: [], start: { ...this.cursor }, end: this.cursor, checkpoints: [], passedBytes: 0 };
      this.carry = undefined;
      while (taken.events.length < max) {
        const rec = await this.loadAtCursor(taken);
        if (!rec) break;
        if (this.cursor.idx === 0 && rec.checkpoint) taken.checkpoints.push(rec.checkpoint);
        const from = Math.min(this.cursor.idx, rec.events.length);
        const n = Math.min(max - taken.events.length, rec.events.length - from);
        for (let k = from; k < from + n; k++) taken.events.push(rec.events[k]!);
        this.cursor.idx += n;
        if (this.cursor.idx >= rec.events.length) {
          taken.passedBytes += rec.length;
          this.cursor = this.segments.normalize({ seg: rec.seg, off: rec.off + rec.length, idx: 0 });
        }
      }
      taken.end = { ...this.cursor };
      // Passed without an event (checkpoint-only records, damage): part of the next take, so its commit covers them.
      if (taken.events.length === 0 && (taken.passedBytes > 0 || taken.checkpoints.length > 0)) this.carry = taken;
      return taken;
    });
  }

  /** A rollback: the next collect starts at `pos` again. Waits for a collect in progress. */
  rewind(pos: Pos): Promise<void> {
    return this.lock.run(async () => {
      this.cursor = { ...pos };
      this.carry = undefined;
      this.loaded = undefined;
      this.cacheScan = this.cacheHead;
    });
  }

  /** Forgets cached records the committed position has passed. */
  forget(committed: Pos): void {
    while (this.cacheHead < this.cache.length && before(this.cache[this.cacheHead]!, committed)) {
      this.cacheBytes -= this.cache[this.cacheHead]!.length;
      this.cacheHead++;
    }
    // Forgotten records still referenced by the array keep their events alive: after a burst
    // that was up to 1024 records of decoded events (tens of MiB) held while idle. Dropping
    // them once they are half the array keeps the cost amortized O(1) per record.
    if (this.cacheHead > 0 && this.cacheHead * 2 >= this.cache.length) {
      this.cache.splice(0, this.cacheHead);
      this.cacheScan = Math.max(0, this.cacheScan - this.cacheHead);
      this.cacheHead = 0;
    }
  }

  async close(): Promise<void> {
    await this.lock.run(async () => {
      await this.file?.fh.close();
      this.file = undefined;
      this.chunk = undefined;
      this.readBuf = undefined;
      this.cache.length = 0;
    });
  }

  /** The record at the cursor, from the cache or the segment file; undefined when no record is written there yet. */
  private async loadAtCursor(taken: Taken): Promise<WrittenRecord | undefined> {
    for (;;) {
      this.cursor = this.segments.normalize(this.cursor);
      const { seg: id, off } = this.cursor;
      if (this.loaded && this.loaded.seg === id && this.loaded.off === off) return this.loaded;
      const seg = this.segments.find(id);
      if (!seg || off >= seg.readable) return undefined;
      const cached = this.cacheLookup(id, off);
      if (cached) return (this.loaded = cached);
      const rec = await this.readRecord(seg, off, taken);
      if (rec) return (this.loaded = rec);
      // readRecord moved the cursor past damaged bytes; look again.
    }
  }

  private async readRecord(seg: Segment, off: number, taken: Taken): Promise<WrittenRecord | undefined> {
    let chunk = await this.readChunk(seg, off, 0);
    let check = checkFrame(chunk.buf, off - chunk.start, chunk.buf.length);
    if (check.kind === 'short' && off + check.need <= seg.readable) {
      chunk = await this.readChunk(seg, off, check.need);
      check = checkFrame(chunk.buf, off - chunk.start, chunk.buf.length);
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
        this.skipDamage(seg, off, off + check.length, err.message, taken);
        return undefined;
      }
    }
    // Damage written after open (recovery already mapped older damage): find the next intact record.
    const rest = await this.readChunk(seg, off, seg.readable - off);
    const next = findNextFrame(rest.buf, off - rest.start + 1, rest.buf.length);
    this.skipDamage(
      seg,
      off,
      next >= 0 ? rest.start + next : seg.readable,
      check.kind === 'short' ? 'incomplete record' : check.reason,
      taken,
    );
    return undefined;
  }

  private skipDamage(seg: Segment, from: number, to: number, reason: string, taken: Taken): void {
    this.damage.report(seg.path, seg.id, from, to, reason);
    taken.passedBytes += to - from;
    this.cursor = { seg: seg.id, off: to, idx: 0 };
  }

  /** Bytes [off, off + max(need, chunk)) of a segment, clipped to what is readable. */
  private async readChunk(seg: Segment, off: number, need: number): Promise<{ seg: number; start: number; buf: Buffer }> {
    const c = this.chunk;
    const want = Math.max(FRAME_HEADER_MIN, need);
    if (c && c.seg === seg.id && off >= c.start && off + want <= c.start + c.buf.length) return c;
    if (this.file?.seg !== seg.id) {
      await this.file?.fh.close();
      this.file = undefined;
      this.file = { seg: seg.id, fh: await open(seg.path, 'r') };
    }
    const length = Math.min(Math.max(READ_CHUNK_BYTES, need), seg.readable - off);
    // One buffer for the usual reads: decoding copies what it keeps, and a fresh MiB per read cost page faults.
    this.chunk = undefined;
    const buf = length <= READ_CHUNK_BYTES ? (this.readBuf ??= Buffer.allocUnsafeSlow(READ_CHUNK_BYTES)) : Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.file.fh.read(buf, got, length - got, off + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.chunk = { seg: seg.id, start: off, buf: buf.subarray(0, got) };
    return this.chunk;
  }

  private cacheLookup(seg: number, off: number): WrittenRecord | undefined {
    let i = Math.max(this.cacheScan, this.cacheHead);
    if (i < this.cache.length && before({ seg, off }, this.cache[i]!)) i = this.cacheHead;
    while (i < this.cache.length && before(this.cache[i]!, { seg, off })) i++;
    this.cacheScan = i;
    const e = this.cache[i];
    return e && e.seg === seg && e.off === off ? e : undefined;
  }
}

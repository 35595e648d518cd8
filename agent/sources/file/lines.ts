/**
 * Splits a file's bytes into lines on Buffers: LF or CRLF terminated (in the file's
 * encoding: UTF-16 newlines are two bytes at even offsets), a partial last line held until
 * its newline arrives (or `flush()` after an idle timeout), lines longer than the limit
 * truncated (the rest skipped up to the newline), split into pieces, or skipped whole.
 *
 * Offsets are file byte offsets: `offset` is where the line starts, `next` where reading
 * resumes after it (past its newline). `next` is what the checkpoint stores once the line
 * is durable downstream, so a resumed reader neither repeats nor skips it.
 */
export type Cut = 'truncated' | 'split' | 'skipped' | undefined;

export type LineHandler = (
  buf: Buffer,
  start: number,
  end: number,
  offset: number,
  next: number,
  /**
   * 'truncated' (bytes were cut), 'split' (a piece of a longer line), 'skipped' (a line over
   * the limit to be dropped: the bytes given are only its head, for patterns to classify it).
   */
  cut: Cut,
) => void;

export interface SplitterOptions {
  /** Longest line kept, in file bytes. */
  limit: number;
  mode: 'truncate' | 'split' | 'skip';
  /** Bytes of a skipped line still handed on (its head), for patterns. */
  skipHead: number;
  /** Bytes of a newline code unit (2: UTF-16) and their order. */
  width: 1 | 2;
  bigEndian: boolean;
  /** Where a cut at or before `max` keeps characters whole. */
  boundary: (buf: Buffer, start: number, max: number) => number;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Offset of the first byte of the line being assembled. */
  private lineStart: number;
  /** The line being assembled is over the limit: its head is kept, the rest is being skipped. */
  private overflow = false;
  /** Bytes the splitter has seen: the offset right after the last pushed chunk. */
  private end: number;
  private readonly head: number;

  constructor(
    start: number,
    private readonly o: SplitterOptions,
    private readonly onLine: LineHandler,
    private readonly pause: () => boolean = () => false,
  ) {
    this.lineStart = start;
    this.end = start;
    this.head = o.mode === 'skip' ? Math.min(o.limit, o.skipHead) : o.limit;
  }

  /** Bytes held for a line without newline yet. */
  get pending(): number {
    return this.partsLen;
  }

  /**
   * `chunk[0, length)` holds the file's bytes from the offset after the previous push.
   * Returns how many of them were consumed: fewer than `length` when `pause()` turned true
   * after a complete line (the batch is full), or when a UTF-16 code unit is incomplete;
   * the caller reads the rest again later.
   */
  push(chunk: Buffer, length: number): number {
    const w = this.o.width;
    if (w === 2) length &= ~1;
    const base = this.end;
    let pos = 0;
    while (pos < length) {
      const nl = this.newline(chunk, pos, length);
      if (nl === -1) {
        this.hold(chunk, pos, length, base);
        pos = length;
        break;
      }
      const next = base + nl + w;
      if (this.partsLen === 0 && !this.overflow) {
        const end = nl - pos >= w && this.isCr(chunk, nl - w) ? nl - w : nl;
        if (end - pos <= this.o.limit) this.onLine(chunk, pos, end, base + pos, next, undefined);
        else this.long(chunk, pos, end, base + pos, next);
      } else {
        this.hold(chunk, pos, nl, base);
        this.completeHeld(next);
      }
      pos = nl + w;
      if (this.pause()) break;
    }
    this.end = base + pos;
    return pos;
  }

  /**
   * Emits a held partial line (the writer went idle, or the file will not continue it); it
   * resumes after the held bytes. `cut`: what the line is marked when its end will never
   * be read (the file was truncated under it).
   */
  flush(cut?: 'truncated'): void {
    if (this.partsLen === 0) return;
    const line = this.takeParts();
    const over = this.overflowCut();
    const next = over ? this.end : this.lineStart + line.length;
    const offset = this.lineStart;
    this.lineStart = next;
    this.onLine(line, 0, line.length, offset, next, over ?? cut);
  }

  /** Index of the next newline code unit in chunk[from, length), or -1. */
  private newline(chunk: Buffer, from: number, length: number): number {
    if (this.o.width === 1) {
      const nl = chunk.indexOf(10, from);
      return nl >= length ? -1 : nl;
    }
    // UTF-16: the 0x0A byte of a newline sits at an even index (LE) or an odd one (BE),
    // with a zero byte beside it; elsewhere 0x0A is half of another character.
    const lowAt = this.o.bigEndian ? 1 : 0;
    let i = chunk.indexOf(10, from + lowAt);
    while (i !== -1 && i < length) {
      const unit = i - lowAt;
      if ((unit & 1) === 0 && chunk[unit + 1 - lowAt] === 0) return unit;
      i = chunk.indexOf(10, i + 1);
    }
    return -1;
  }

  private isCr(buf: Buffer, at: number): boolean {
    if (this.o.width === 1) return buf[at] === 13;
    return this.o.bigEndian ? buf[at] === 0 && buf[at + 1] === 13 : buf[at] === 13 && buf[at + 1] === 0;
  }

  private overflowCut(): Cut {
    if (!this.overflow) return undefined;
    this.overflow = false;
    return this.o.mode === 'skip' ? 'skipped' : 'truncated';
  }

  /** A line longer than the limit, entirely inside one chunk. */
  private long(chunk: Buffer, start: number, end: number, offset: number, next: number): void {
    const { mode, limit, boundary } = this.o;
    if (mode !== 'split') {
      this.onLine(chunk, start, boundary(chunk, start, start + this.head), offset, next, mode === 'skip' ? 'skipped' : 'truncated');
      return;
    }
    let s = start;
    while (end - s > limit) {
      const e = boundary(chunk, s, s + limit);
      this.onLine(chunk, s, e, offset + (s - start), offset + (e - start), 'split');
      s = e;
    }
    this.onLine(chunk, s, end, offset + (s - start), next, undefined);
  }

  /** Keeps bytes [from, to) of the chunk as part of the unfinished line (copied: the chunk is reused). */
  private hold(chunk: Buffer, from: number, to: number, base: number): void {
    if (from === to) return;
    if (this.partsLen === 0 && !this.overflow) this.lineStart = base + from;
    if (this.overflow) return;
    const { mode, limit, boundary } = this.o;
    if (this.partsLen + (to - from) <= limit) {
      this.parts.push(Buffer.from(chunk.subarray(from, to)));
      this.partsLen += to - from;
      return;
    }
    const all = Buffer.concat([...this.parts, chunk.subarray(from, to)]);
    if (mode !== 'split') {
      // Keep the head (cut at a character boundary); the rest is skipped up to the newline.
      const head = Buffer.from(all.subarray(0, boundary(all, 0, this.head)));
      this.parts = [head];
      this.partsLen = head.length;
      this.overflow = true;
      return;
    }
    let s = 0;
    while (all.length - s > limit) {
      const e = boundary(all, s, s + limit);
      const offset = this.lineStart;
      this.lineStart = offset + (e - s);
      this.onLine(all, s, e, offset, this.lineStart, 'split');
      s = e;
    }
    this.parts = [all.subarray(s)];
    this.partsLen = all.length - s;
  }

  private completeHeld(next: number): void {
    const line = this.takeParts();
    const cut = this.overflowCut();
    const w = this.o.width;
    const end = !cut && line.length >= w && this.isCr(line, line.length - w) ? line.length - w : line.length;
    const offset = this.lineStart;
    this.lineStart = next;
    this.onLine(line, 0, end, offset, next, cut);
  }

  private takeParts(): Buffer {
    const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsLen);
    this.parts = [];
    this.partsLen = 0;
    return line;
  }
}

/** The cut point at or just before `max` that does not split a UTF-8 character (bytes that are not UTF-8 are cut at `max`). */
export function charBoundary(buf: Buffer, start: number, max: number): number {
  if (max >= buf.length) return buf.length;
  let e = max;
  while (e > start && max - e < 3 && (buf[e]! & 0xc0) === 0x80) e--;
  if (e === start || (buf[e]! & 0xc0) === 0x80) return max;
  return e;
}

/**
 * Splits a file's bytes into lines on Buffers: LF or CRLF terminated, a partial last line
 * held until its newline arrives (or `flush()` after an idle timeout), lines longer than
 * `max_line_bytes` truncated (the rest skipped up to the newline) or split into pieces.
 *
 * Offsets are file byte offsets: `offset` is where the line starts, `next` where reading
 * resumes after it (past its newline). `next` is what the checkpoint stores once the line
 * is durable downstream, so a resumed reader neither repeats nor skips it.
 */
export type LineHandler = (
  buf: Buffer,
  start: number,
  end: number,
  offset: number,
  next: number,
  /** 'truncated' (bytes were cut), 'split' (a piece of a longer line) or undefined. */
  cut: 'truncated' | 'split' | undefined,
) => void;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Offset of the first byte of the line being assembled. */
  private lineStart: number;
  /** Truncate mode: the head is kept, the rest of the line is being skipped. */
  private skipping = false;
  /** Bytes the splitter has seen: the offset right after the last pushed chunk. */
  private end: number;

  constructor(
    start: number,
    private readonly max_line_bytes: number,
    private readonly mode: 'truncate' | 'split',
    private readonly onLine: LineHandler,
    private readonly pause: () => boolean = () => false,
  ) {
    this.lineStart = start;
    this.end = start;
  }

  /** Bytes held for a line without newline yet. */
  get pending(): number {
    return this.partsLen;
  }

  /**
   * `chunk[0, length)` holds the file's bytes from the offset after the previous push.
   * Returns how many of them were consumed: fewer than `length` when `pause()` turned true
   * after a complete line (the batch is full); the caller reads the rest again later.
   */
  push(chunk: Buffer, length: number): number {
    const base = this.end;
    let pos = 0;
    while (pos < length) {
      const nl = chunk.indexOf(10, pos);
      if (nl === -1 || nl >= length) {
        this.hold(chunk, pos, length, base);
        pos = length;
        break;
      }
      const next = base + nl + 1;
      if (this.partsLen === 0 && !this.skipping) {
        const end = nl > pos && chunk[nl - 1] === 13 ? nl - 1 : nl;
        if (end - pos <= this.max_line_bytes) this.onLine(chunk, pos, end, base + pos, next, undefined);
        else this.long(chunk, pos, end, base + pos, next);
      } else {
        this.hold(chunk, pos, nl, base);
        this.completeHeld(next);
      }
      pos = nl + 1;
      if (this.pause()) break;
    }
    this.end = base + pos;
    return pos;
  }

  /** Emits a held partial line (the writer went idle); it resumes after the held bytes. */
  flush(): void {
    if (this.partsLen === 0) return;
    const line = this.takeParts();
    const cut = this.skipping ? 'truncated' : undefined;
    this.skipping = false;
    const next = cut ? this.end : this.lineStart + line.length;
    const offset = this.lineStart;
    this.lineStart = next;
    this.onLine(line, 0, line.length, offset, next, cut);
  }

  /** A line longer than the maximum, entirely inside one chunk. */
  private long(chunk: Buffer, start: number, end: number, offset: number, next: number): void {
    if (this.mode === 'truncate') {
      this.onLine(chunk, start, charBoundary(chunk, start, start + this.max_line_bytes), offset, next, 'truncated');
      return;
    }
    let s = start;
    while (end - s > this.max_line_bytes) {
      const e = charBoundary(chunk, s, s + this.max_line_bytes);
      this.onLine(chunk, s, e, offset + (s - start), offset + (e - start), 'split');
      s = e;
    }
    this.onLine(chunk, s, end, offset + (s - start), next, undefined);
  }

  /** Keeps bytes [from, to) of the chunk as part of the unfinished line (copied: the chunk is reused). */
  private hold(chunk: Buffer, from: number, to: number, base: number): void {
    if (from === to) return;
    if (this.partsLen === 0 && !this.skipping) this.lineStart = base + from;
    if (this.skipping) return;
    if (this.partsLen + (to - from) <= this.max_line_bytes) {
      this.parts.push(Buffer.from(chunk.subarray(from, to)));
      this.partsLen += to - from;
      return;
    }
    const all = Buffer.concat([...this.parts, chunk.subarray(from, to)]);
    if (this.mode === 'truncate') {
      // Keep the head (cut at a character boundary); the rest is skipped up to the newline.
      const head = Buffer.from(all.subarray(0, charBoundary(all, 0, this.max_line_bytes)));
      this.parts = [head];
      this.partsLen = head.length;
      this.skipping = true;
      return;
    }
    let s = 0;
    while (all.length - s > this.max_line_bytes) {
      const e = charBoundary(all, s, s + this.max_line_bytes);
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
    const cut = this.skipping ? 'truncated' : undefined;
    this.skipping = false;
    const end = !cut && line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
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

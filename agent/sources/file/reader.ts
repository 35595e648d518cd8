import { codecOfFile, type Codec } from './encoding.js';
import type { DecodedEvent, FileFormat, LineDecoder } from './format.js';
import { type Cut, LineSplitter } from './lines.js';
import { MultilineJoiner, type Rules } from './multiline.js';
import type { LongLines, MultilineOptions } from './options.js';

/** How every file of a source turns bytes into events (from the options). */
export interface ReaderConfig {
  /** The configured encoding; a UTF-16 byte order mark at the start of a file may override the byte order. */
  codec: Codec;
  maxEventBytes: number;
  longLines: LongLines;
  maxMatchBytes: number;
  partialTimeout: number;
  rules: Rules | undefined;
  multiline: MultilineOptions | undefined;
  format: FileFormat | undefined;
  /** True when the batch is full: the splitter stops after the current line. */
  pause: () => boolean;
}

/** Where one file's events go (the source's batch, with the file's identity and fields). */
export interface ReaderOutput {
  /** The read time of the bytes being pushed (ms). */
  now(): number;
  line(message: string, offset: number, next: number, cut: Exclude<Cut, 'skipped'>): void;
  decoded(e: DecodedEvent): void;
  /** Bytes up to `next` make no event (skipped as too long). */
  skipped(next: number): void;
  /** Bytes up to `next` make no event, and are not counted as a skipped one. */
  passed(next: number): void;
}

/**
 * One generation of a file, from bytes to events: lines split in the file's encoding,
 * decoded to text, then joined (multiline) or decoded as records (another format). Holds
 * what is not complete yet: a partial last line, an event being joined, records of a split
 * line.
 */
export class LineReader {
  private splitter: LineSplitter | undefined;
  private codec: Codec;
  private readonly joiner: MultilineJoiner | undefined;
  private readonly decoder: LineDecoder | undefined;

  constructor(
    private readonly start: number,
    /** The file's first bytes as far as known (they may hold a byte order mark). */
    head: Buffer,
    private readonly cfg: ReaderConfig,
    private readonly out: ReaderOutput,
    where: { path: string },
  ) {
    this.codec = cfg.codec;
    if (start > 0 || head.length >= 2 || cfg.codec.width === 1) this.init(head, head.length);
    const m = cfg.multiline;
    if (cfg.format) {
      this.decoder = cfg.format.decoder(
        { emit: (e) => out.decoded(e), skipped: (next) => out.skipped(next), passed: (next) => out.passed(next) },
        where,
      );
    } else if (cfg.rules && m) {
      this.joiner = new MultilineJoiner(
        cfg.rules,
        { maxBytes: cfg.maxEventBytes, policy: cfg.longLines, maxLines: m.max_lines, maxMatchBytes: cfg.maxMatchBytes, negate: m.negate },
        (message, offset, next, cut) => out.line(message, offset, next, cut === 'skipped' ? undefined : cut),
        (_offset, next) => out.skipped(next),
      );
    }
  }

  /** The encoding this file is read in. */
  get encoding(): string {
    return this.codec.name;
  }

  /** Bytes held for a line without newline yet. */
  get partial(): number {
    return this.splitter?.pending ?? 0;
  }

  /** Consumes chunk[0, length) (the file's bytes from where the last push ended); returns how many were used. */
  push(chunk: Buffer, length: number): number {
    if (!this.splitter) {
      // A UTF-16 file read from its start: its first two bytes may be a byte order mark.
      if (length < 2) return 0;
      this.init(chunk, length);
    }
    return this.splitter!.push(chunk, length);
  }

  /**
   * Everything held is complete: the file will not continue it (let go, or truncated).
   * `truncated`: the file was truncated under it, so the end of a line without its newline
   * yet will never be read: that line is marked `log.truncated` (a format's decoder judges
   * the records it gets itself).
   */
  finish(truncated = false): void {
    this.splitter?.flush(truncated && !this.decoder ? 'truncated' : undefined);
    this.joiner?.flush();
    this.decoder?.flush();
  }

  /** Emits what waited long enough: a partial line (`quiet`: the file is at its end and idle that long), a joined event. */
  tick(now: number, quiet: number): void {
    const cfg = this.cfg;
    if (cfg.partialTimeout > 0 && this.partial > 0 && quiet >= cfg.partialTimeout) this.splitter!.flush();
    if (this.joiner?.pending && now - this.joiner.lastLineAt >= cfg.multiline!.flush_timeout) this.joiner.flush();
    this.decoder?.tick(now, quiet);
  }

  /** When `tick` has something to do (ms since the epoch), Infinity when nothing waits. */
  deadline(lastGrowthAt: number): number {
    let at = Number.POSITIVE_INFINITY;
    if (this.cfg.partialTimeout > 0 && this.partial > 0) at = lastGrowthAt + this.cfg.partialTimeout;
    if (this.joiner?.pending) at = Math.min(at, this.joiner.lastLineAt + this.cfg.multiline!.flush_timeout);
    if (this.decoder) at = Math.min(at, this.decoder.deadline(lastGrowthAt));
    return at;
  }

  /** File offset of the oldest record a decoder holds (the position may not pass it), or Infinity. */
  heldFrom(): number {
    return this.decoder ? this.decoder.heldFrom() : Number.POSITIVE_INFINITY;
  }

  private init(head: Buffer, length: number): void {
    const cfg = this.cfg;
    const codec = codecOfFile(cfg.codec, head, length);
    this.codec = codec;
    const limit = cfg.format?.maxLineBytes ?? Math.floor(cfg.maxEventBytes / codec.growth);
    this.splitter = new LineSplitter(
      this.start,
      {
        limit: codec.width === 2 ? limit & ~1 : limit,
        mode: cfg.longLines,
        skipHead: cfg.maxMatchBytes,
        width: codec.width,
        bigEndian: codec.bigEndian,
        boundary: codec.boundary,
      },
      (buf, s, e, offset, next, cut) => this.onLine(buf, s, e, offset, next, cut),
      cfg.pause,
    );
  }

  private onLine(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut): void {
    const out = this.out;
    if (this.decoder) {
      this.decoder.line(buf, start, end, offset, next, cut, out.now());
      return;
    }
    if (cut === 'skipped' && !this.joiner) {
      out.skipped(next);
      return;
    }
    const codec = this.codec;
    if (offset === 0) {
      // A byte order mark is no text: the first line starts after it.
      const bom = codec.bom(buf, start, end);
      start += bom;
      offset += bom;
    }
    const message = codec.decode(buf, start, end);
    if (this.joiner) this.joiner.push(message, codec.growth === 1 ? end - start : Buffer.byteLength(message), offset, next, cut, out.now());
    else out.line(message, offset, next, cut as Exclude<Cut, 'skipped'>);
  }
}

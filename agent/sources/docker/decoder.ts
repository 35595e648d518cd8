import { parseTime } from '../file/time.js';
import type { Cut, DecoderOutput, LineDecoder } from '../file/format.js';
import { charBoundary } from '../file/lines.js';
import type { MultilineJoiner } from '../file/multiline.js';

/**
 * Container log records -> events. A line is a Docker json-file record
 * (`{"log":"text\n","stream":"stdout","time":"…Z"}`) or a CRI record (containerd, CRI-O,
 * the kubelet: `<RFC3339Nano> <stream> <P|F>[:…] <text>`); the first byte tells which.
 *
 * A line the runtime split (json-file: a `log` without the final "\n", cut every 16 KiB;
 * CRI: tag P, the last piece F) is reassembled per stream — stdout and stderr pieces may
 * interleave — before multiline joining. CRI pieces are raw bytes, so they are joined as
 * bytes and a character cut between two pieces comes out whole. json-file pieces were
 * already JSON-encoded by Docker one by one, and its encoder writes every byte of a cut
 * character as U+FFFD: that character is gone before we read it, and stays U+FFFD.
 */
export interface DecoderOptions {
  /** Longest reassembled message (bytes): a longer one keeps its head and is marked truncated, or is skipped. */
  maxEventBytes: number;
  policy: 'truncate' | 'skip';
  /** A held piece whose continuation has not come after the file was idle this long is emitted as it is (0: never). */
  partialTimeout: number;
  /** Per stream joiner of continuation lines (stack traces), or undefined. */
  joiner?: (
    emit: (message: string, offset: number, next: number, cut: Cut, first: First) => void,
    skip: (offset: number, next: number) => void,
  ) => MultilineJoiner<First>;
  flushTimeout: number;
  /** A line that is not a valid record: reported (file, offset, reason) and emitted raw. */
  malformed: (offset: number, reason: string) => void;
}

export interface First {
  timestamp: number;
  stream: string;
}

interface Pieces {
  /** json-file pieces are strings, CRI pieces bytes (copied: the read buffer is reused). */
  parts: (string | Buffer)[];
  bytes: number;
  offset: number;
  timestamp: number;
  cut: Cut;
  lastAt: number;
}

interface StreamState {
  pieces: Pieces | undefined;
  joiner: MultilineJoiner<First> | undefined;
}

const STREAMS = new Set(['stdout', 'stderr']);

export class ContainerLogDecoder implements LineDecoder {
  private readonly streams = new Map<string, StreamState>();

  constructor(
    private readonly options: DecoderOptions,
    private readonly out: DecoderOutput,
  ) {}

  line(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number): void {
    // A record line over the line limit (long_lines: skip): nothing of it is read.
    if (cut === 'skipped') return this.out.skipped(next);
    if (start === end) return this.bad(buf, start, end, offset, next, cut, now, 'empty line');
    if (buf[start] === 0x7b) this.jsonRecord(buf, start, end, offset, next, cut, now);
    else this.criRecord(buf, start, end, offset, next, cut, now);
  }

  private jsonRecord(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number): void {
    let rec: unknown;
    try {
      rec = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      return this.bad(buf, start, end, offset, next, cut, now, cut === 'truncated' ? 'line longer than max_line_bytes' : 'not valid JSON');
    }
    const r = rec as { log?: unknown; stream?: unknown; time?: unknown };
    if (
      typeof rec !== 'object' ||
      rec === null ||
      typeof r.log !== 'string' ||
      typeof r.stream !== 'string' ||
      typeof r.time !== 'string'
    ) {
      return this.bad(buf, start, end, offset, next, cut, now, 'JSON without string "log", "stream" and "time"');
    }
    const time = parseTime(r.time);
    if (time === undefined)
      return this.bad(buf, start, end, offset, next, cut, now, `unreadable time ${JSON.stringify(r.time.slice(0, 40))}`);
    const log = r.log;
    const last = log.endsWith('\n');
    const text = last ? log.slice(0, log.endsWith('\r\n') ? -2 : -1) : log;
    this.piece(r.stream, text, Buffer.byteLength(text), last, offset, next, time, now);
  }

  private criRecord(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number): void {
    const s1 = buf.indexOf(0x20, start);
    const s2 = s1 < 0 || s1 >= end ? -1 : buf.indexOf(0x20, s1 + 1);
    if (s2 < 0 || s2 >= end) return this.bad(buf, start, end, offset, next, cut, now, 'neither JSON nor "<time> <stream> <tag> <text>"');
    let s3 = buf.indexOf(0x20, s2 + 1);
    if (s3 < 0 || s3 > end) s3 = end;
    const stream = buf.toString('latin1', s1 + 1, s2);
    const tag = buf.toString('latin1', s2 + 1, s3).split(':')[0];
    const time = parseTime(buf.toString('latin1', start, s1));
    if (time === undefined || !STREAMS.has(stream) || (tag !== 'P' && tag !== 'F')) {
      return this.bad(buf, start, end, offset, next, cut, now, 'neither JSON nor "<time> <stream> <P|F> <text>"');
    }
    const from = Math.min(s3 + 1, end);
    // Copied: the caller's buffer is reused for the next read.
    this.piece(stream, Buffer.from(buf.subarray(from, end)), end - from, tag === 'F', offset, next, time, now);
  }

  private piece(
    stream: string,
    part: string | Buffer,
    bytes: number,
    last: boolean,
    offset: number,
    next: number,
    time: number,
    now: number,
  ): void {
    const st = this.state(stream);
    let p = st.pieces;
    if (p && typeof p.parts[0] !== typeof part) {
      this.complete(stream, st, p, this.pendingNext.get(stream)!);
      p = undefined;
    }
    if (!p) st.pieces = p = { parts: [], bytes: 0, offset, timestamp: time, cut: undefined, lastAt: now };
    const room = this.options.maxEventBytes - p.bytes;
    if (bytes <= room) {
      p.parts.push(part);
      p.bytes += bytes;
    } else if (p.cut === undefined) {
      // The head is kept either way: a skipped message still shows it to the multiline patterns.
      const b = typeof part === 'string' ? Buffer.from(part) : part;
      p.parts.push(b.subarray(0, charBoundary(b, 0, room)));
      p.bytes = this.options.maxEventBytes;
      p.cut = this.options.policy === 'skip' ? 'skipped' : 'truncated';
    }
    p.lastAt = now;
    if (last) this.complete(stream, st, p, next);
    else this.pendingNext.set(stream, next);
  }

  /** Where the file continues after the last piece held of each stream. */
  private readonly pendingNext = new Map<string, number>();

  private complete(stream: string, st: StreamState, p: Pieces, next: number): void {
    st.pieces = undefined;
    this.pendingNext.delete(stream);
    const message =
      typeof p.parts[0] === 'string'
        ? (p.parts as string[]).join('')
        : p.parts.length === 1
          ? (p.parts[0] as Buffer).toString('utf8')
          : Buffer.concat(p.parts as Buffer[]).toString('utf8');
    if (st.joiner) st.joiner.push(message, p.bytes, p.offset, next, p.cut, p.lastAt, { timestamp: p.timestamp, stream });
    else if (p.cut === 'skipped') this.out.skipped(next);
    else this.out.emit({ message, offset: p.offset, next, cut: p.cut, timestamp: p.timestamp, stream });
  }

  private state(stream: string): StreamState {
    let st = this.streams.get(stream);
    if (!st) {
      st = { pieces: undefined, joiner: undefined };
      st.joiner = this.options.joiner?.(
        (message, offset, next, cut, first) =>
          this.out.emit({
            message,
            offset,
            next,
            cut: cut === 'skipped' ? undefined : cut,
            timestamp: first.timestamp,
            stream: first.stream,
          }),
        (_offset, next) => this.out.skipped(next),
      );
      this.streams.set(stream, st);
    }
    return st;
  }

  private bad(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number, reason: string): void {
    this.options.malformed(offset, reason);
    this.out.emit({
      message: buf.toString('utf8', start, end),
      offset,
      next,
      cut: cut === 'skipped' ? undefined : cut,
      timestamp: now,
      fields: { 'log.malformed': reason },
    });
  }

  tick(now: number, quiet: number): void {
    const o = this.options;
    for (const [stream, st] of this.streams) {
      if (st.pieces && o.partialTimeout > 0 && quiet >= o.partialTimeout)
        this.complete(stream, st, st.pieces, this.pendingNext.get(stream)!);
      if (st.joiner?.pending && now - st.joiner.lastLineAt >= o.flushTimeout) st.joiner.flush();
    }
  }

  flush(): void {
    for (const [stream, st] of this.streams) {
      if (st.pieces) this.complete(stream, st, st.pieces, this.pendingNext.get(stream)!);
      st.joiner?.flush();
    }
  }

  deadline(lastGrowthAt: number): number {
    let at = Infinity;
    for (const st of this.streams.values()) {
      if (st.pieces && this.options.partialTimeout > 0) at = Math.min(at, lastGrowthAt + this.options.partialTimeout);
      if (st.joiner?.pending) at = Math.min(at, st.joiner.lastLineAt + this.options.flushTimeout);
    }
    return at;
  }

  heldFrom(): number {
    let from = Infinity;
    for (const st of this.streams.values()) {
      if (st.pieces) from = Math.min(from, st.pieces.offset);
      if (st.joiner?.pending) from = Math.min(from, st.joiner.heldFrom);
    }
    return from;
  }
}

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
  /** Longest record line read whole (bytes): what a longer one was cut at, for its report. */
  maxLineBytes: number;
  /**
   * A held piece whose continuation has not come after this long is emitted as it is (0: never):
   * by the runtime's clock once a later record shows its stream that quiet, else once the file
   * was idle that long.
   */
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
  /** json-file pieces are strings, CRI pieces bytes (copied: the read buffer is reused); one message never mixes them. */
  json: boolean;
  parts: (string | Buffer)[];
  bytes: number;
  offset: number;
  /** File offset after its last piece. */
  next: number;
  timestamp: number;
  cut: Cut;
  lastAt: number;
}

interface StreamState {
  pieces: Pieces | undefined;
  /**
   * The message being read outgrew max_event_bytes and was handed on (its head, or skipped):
   * its further pieces up to its last are dropped, and the position passes them. Held until its
   * last piece, it would keep the position at its first for as long as the line lasts (a
   * progress bar: hours), and a restart would emit the other stream's events since then again.
   */
  dropping: boolean;
  /** Runtime time of the stream's last piece (held or dropped). */
  lastTime: number;
  joiner: MultilineJoiner<First> | undefined;
}

const STREAMS = new Set(['stdout', 'stderr']);

export class ContainerLogDecoder implements LineDecoder {
  private readonly streams = new Map<string, StreamState>();
  /**
   * Runtime time from which a held or dropped message may have timed out (a lower bound: the
   * streams are looked at then, and it is set again), Infinity when none is held.
   */
  private expireAt = Infinity;

  constructor(
    private readonly options: DecoderOptions,
    private readonly out: DecoderOutput,
  ) {}

  line(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number): void {
    if (start < end && buf[start] === 0) {
      // After a power loss the file may end in NUL bytes where unwritten data was (ext4,
      // XFS); the runtime appends its next record to them.
      const from = start;
      while (start < end && buf[start] === 0) start++;
      this.options.malformed(offset, `${start - from} NUL bytes before the record, skipped`);
      offset += start - from;
      if (start === end) return this.out.passed(next);
    }
    if (start === end) return this.bad(buf, start, end, offset, next, cut, now, 'empty line');
    if (buf[start] === 0x7b) {
      // A record line over the line limit (long_lines: skip) comes as its head, which is no JSON.
      if (cut === 'skipped') return this.out.skipped(next);
      this.jsonRecord(buf, start, end, offset, next, cut, now);
    } else this.criRecord(buf, start, end, offset, next, cut, now);
  }

  private jsonRecord(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number): void {
    let rec: unknown;
    try {
      rec = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      const reason =
        cut === 'truncated'
          ? `longer than ${this.options.maxLineBytes} bytes, the longest record line read (6 × max_event_bytes, at least 6 × 16 KiB, + 64 KiB)`
          : 'not valid JSON';
      return this.bad(buf, start, end, offset, next, cut, now, reason);
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
    this.piece(r.stream, text, Buffer.byteLength(text), last, false, offset, next, time, now);
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
    // Copied: the caller's buffer is reused for the next read. A line cut at the line limit
    // (a runtime configured for longer lines) holds more than max_event_bytes of message.
    this.piece(stream, Buffer.from(buf.subarray(from, end)), end - from, tag === 'F', cut !== undefined, offset, next, time, now);
  }

  private piece(
    stream: string,
    part: string | Buffer,
    bytes: number,
    last: boolean,
    over: boolean,
    offset: number,
    next: number,
    time: number,
    now: number,
  ): void {
    if (time >= this.expireAt) this.expire(time);
    const st = this.state(stream);
    st.lastTime = time;
    if (st.dropping) {
      if (last) st.dropping = false;
      this.out.passed(next);
    } else {
      const json = typeof part === 'string';
      let p = st.pieces;
      if (p && p.json !== json) {
        this.complete(stream, st, p);
        p = undefined;
      }
      if (!p) st.pieces = p = { json, parts: [], bytes: 0, offset, next, timestamp: time, cut: undefined, lastAt: now };
      const room = this.options.maxEventBytes - p.bytes;
      if (bytes <= room && !over) {
        p.parts.push(part);
        p.bytes += bytes;
      } else {
        // The head is kept either way: a skipped message still shows it to the multiline patterns.
        p.parts.push(headOf(part, room));
        p.bytes = this.options.maxEventBytes;
        p.cut = this.options.policy === 'skip' ? 'skipped' : 'truncated';
      }
      p.lastAt = now;
      p.next = next;
      if (last) this.complete(stream, st, p);
      else if (p.cut !== undefined) {
        this.complete(stream, st, p);
        st.dropping = true;
      }
    }
    if ((st.pieces || st.dropping) && this.options.partialTimeout > 0 && time + this.options.partialTimeout < this.expireAt)
      this.expireAt = time + this.options.partialTimeout;
  }

  /**
   * A record written at `time`: a held or dropped message whose stream wrote nothing for
   * partial_line_timeout before it has ended. Decided by the runtime's times, so a replay
   * decides the same, however fast or late the file is read.
   */
  private expire(time: number): void {
    const timeout = this.options.partialTimeout;
    this.expireAt = Infinity;
    for (const [stream, st] of this.streams) {
      if (!st.pieces && !st.dropping) continue;
      if (time - st.lastTime >= timeout) this.end(stream, st);
      else this.expireAt = Math.min(this.expireAt, st.lastTime + timeout);
    }
  }

  /** The stream's message will not continue: what is held is emitted, the next piece starts a new one. */
  private end(stream: string, st: StreamState): void {
    if (st.pieces) this.complete(stream, st, st.pieces);
    st.dropping = false;
  }

  private complete(stream: string, st: StreamState, p: Pieces): void {
    st.pieces = undefined;
    const message = p.json
      ? p.parts.length === 1
        ? (p.parts[0] as string)
        : (p.parts as string[]).join('')
      : p.parts.length === 1
        ? (p.parts[0] as Buffer).toString('utf8')
        : Buffer.concat(p.parts as Buffer[]).toString('utf8');
    if (st.joiner) st.joiner.push(message, p.bytes, p.offset, p.next, p.cut, p.lastAt, { timestamp: p.timestamp, stream });
    else if (p.cut === 'skipped') this.out.skipped(p.next);
    else this.out.emit({ message, offset: p.offset, next: p.next, cut: p.cut, timestamp: p.timestamp, stream });
  }

  private state(stream: string): StreamState {
    let st = this.streams.get(stream);
    if (!st) {
      st = { pieces: undefined, dropping: false, lastTime: 0, joiner: undefined };
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

  /** Emitted raw, within max_event_bytes like any message (a line may be up to maxLineBytes long). */
  private bad(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number, reason: string): void {
    // An over-long line under long_lines: skip, of which only the head was read.
    if (cut === 'skipped') return this.out.skipped(next);
    this.options.malformed(offset, reason);
    const max = this.options.maxEventBytes;
    let message: string;
    if (end - start > max) {
      message = buf.toString('utf8', start, charBoundary(buf, start, start + max));
      cut = 'truncated';
    } else message = buf.toString('utf8', start, end);
    // Bytes that are not UTF-8 became U+FFFD, three bytes each.
    if (message.length * 3 > max && Buffer.byteLength(message) > max) {
      const b = Buffer.from(message);
      message = b.toString('utf8', 0, charBoundary(b, 0, max));
      cut = 'truncated';
    }
    if (cut === 'truncated' && this.options.policy === 'skip') return this.out.skipped(next);
    this.out.emit({ message, offset, next, cut, timestamp: now, fields: { 'log.malformed': reason } });
  }

  tick(now: number, quiet: number): void {
    const o = this.options;
    for (const [stream, st] of this.streams) {
      if ((st.pieces || st.dropping) && o.partialTimeout > 0 && quiet >= o.partialTimeout) this.end(stream, st);
      if (st.joiner?.pending && now - st.joiner.lastLineAt >= o.flushTimeout) st.joiner.flush();
    }
  }

  flush(): void {
    for (const [stream, st] of this.streams) {
      this.end(stream, st);
      st.joiner?.flush();
    }
  }

  deadline(lastGrowthAt: number): number {
    let at = Infinity;
    for (const st of this.streams.values()) {
      if ((st.pieces || st.dropping) && this.options.partialTimeout > 0) at = Math.min(at, lastGrowthAt + this.options.partialTimeout);
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

/** The first `room` bytes of a piece, whole characters only, of the piece's kind. */
function headOf(part: string | Buffer, room: number): string | Buffer {
  if (typeof part !== 'string') return part.subarray(0, charBoundary(part, 0, room));
  const b = Buffer.from(part);
  return b.toString('utf8', 0, charBoundary(b, 0, room));
}

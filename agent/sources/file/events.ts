import { type FieldValue, type LogEvent, TIME_INVALID_FIELD } from '../../../core/event.js';
import type { TimeParser } from './time.js';
import type { TailedFile } from './file.js';
import type { DecodedEvent } from './format.js';
import { charBoundary, type Cut } from './lines.js';
import type { ReaderOutput } from './reader.js';

/** What was cut, split, skipped or mis-timed since the last put (counted into metrics with it). */
export interface Counts {
  truncated: number;
  split: number;
  skipped: number;
  invalidTimes: number;
}

export interface EventSettings {
  host: string;
  /** `source.kind` of events made by a decoder (another format). */
  kind: string;
  maxEventBytes: number;
  time: TimeParser | undefined;
  batchMaxEvents: number;
  batchMaxBytes: number;
}

const zeroCounts = (): Counts => ({ truncated: 0, split: 0, skipped: 0, invalidTimes: 0 });

/**
 * The batch being filled for the next put: events made from files' lines, each with its
 * file's identity, fields and position. Every event moves its file's `emitPos` (the
 * position the put's checkpoint carries) past the bytes it covers.
 */
export class Batch {
  events: LogEvent[] = [];
  bytes = 0;
  /** When the first event of the batch was made (ms). */
  startedAt = 0;
  counts: Counts = zeroCounts();
  /** The read time of the lines being turned into events. */
  now = 0;

  constructor(private readonly s: EventSettings) {}

  get full(): boolean {
    return this.events.length >= this.s.batchMaxEvents || this.bytes >= this.s.batchMaxBytes;
  }

  /** The events and counts so far; the batch starts empty again. */
  take(): { events: LogEvent[]; bytes: number; counts: Counts } {
    const taken = { events: this.events, bytes: this.bytes, counts: this.counts };
    this.events = [];
    this.bytes = 0;
    this.counts = zeroCounts();
    return taken;
  }

  /** Drops what was not put (the source restarts from its last durable position). */
  clear(): void {
    this.take();
  }

  /** The output of one file's reader. */
  outputFor(f: TailedFile): ReaderOutput {
    return {
      now: () => this.now,
      line: (message, offset, next, cut) => this.line(f, message, offset, next, cut),
      decoded: (e) => this.decoded(f, e),
      skipped: (next) => this.skipped(f, next),
      passed: (next) => this.passed(f, next),
    };
  }

  private line(f: TailedFile, text: string, offset: number, next: number, cut: Exclude<Cut, 'skipped'>): void {
    const s = this.s;
    const fields: Record<string, FieldValue> = f.hasFields ? { ...f.fields } : {};
    let message = text;
    // Lines are cut at max_event_bytes as file bytes; only invalid UTF-8 (one byte becomes
    // three of U+FFFD) can make the text longer than that. Only long texts can be over.
    if (message.length * 3 > s.maxEventBytes && Buffer.byteLength(message) > s.maxEventBytes) {
      const bytes = Buffer.from(message);
      message = bytes.toString('utf8', 0, charBoundary(bytes, 0, s.maxEventBytes));
      cut = 'truncated';
    }
    this.mark(fields, cut);
    let timestamp = this.now;
    if (s.time) {
      const t = s.time.parse(message);
      if (t !== undefined) {
        if (Number.isNaN(t)) {
          fields[TIME_INVALID_FIELD] = s.time.invalidText;
          this.counts.invalidTimes++;
        } else timestamp = t;
      }
    }
    this.push(
      {
        id: f.ids.id(offset),
        timestamp,
        message,
        service: f.service,
        module: f.module,
        host: s.host,
        source: { kind: 'file', path: f.path, fileId: f.id, offset },
        fields,
      },
      next - offset,
    );
    f.emitPos = next;
  }

  /** An event of a decoder: it may hold records that started before this event's end, so the position stops at the oldest. */
  private decoded(f: TailedFile, e: DecodedEvent): void {
    const fields: Record<string, FieldValue> = e.fields ? { ...f.fields, ...e.fields } : { ...f.fields };
    this.mark(fields, e.cut);
    const source = { kind: this.s.kind, path: f.path, fileId: f.id, offset: e.offset } as LogEvent['source'];
    if (f.description?.container !== undefined) source.container = f.description.container;
    if (e.stream !== undefined) source.stream = e.stream;
    this.push(
      {
        id: f.ids.id(e.offset),
        timestamp: e.timestamp ?? this.now,
        message: e.message,
        service: f.service,
        module: f.module,
        host: this.s.host,
        source,
        fields,
      },
      e.message.length,
    );
    f.emitPos = Math.max(f.emitPos, Math.min(e.next, f.reader.heldFrom()));
  }

  private skipped(f: TailedFile, next: number): void {
    this.counts.skipped++;
    this.passed(f, next);
  }

  private passed(f: TailedFile, next: number): void {
    f.emitPos = Math.max(f.emitPos, Math.min(next, f.reader.heldFrom()));
  }

  private mark(fields: Record<string, FieldValue>, cut: Exclude<Cut, 'skipped'>): void {
    if (cut === 'truncated') {
      fields['log.truncated'] = true;
      this.counts.truncated++;
    } else if (cut === 'split') {
      fields['log.split'] = true;
      this.counts.split++;
    }
  }

  private push(e: LogEvent, bytes: number): void {
    if (this.events.length === 0) this.startedAt = this.now;
    this.events.push(e);
    this.bytes += bytes;
  }
}

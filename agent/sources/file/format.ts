import type { FieldValue } from '../../../core/event.js';
import type { Cut } from './lines.js';

/**
 * The hook that lets another source reuse the file tailer (discovery, rotation, identity,
 * checkpoints) for files whose lines are records of another format — container logs, where
 * a line is a JSON or CRI record, several records may make one event and a file holds two
 * streams. The tailer still owns positions: an event is `[offset, next)` of the file, and
 * the checkpoint never passes the first byte of a record a decoder still holds.
 */
export type { Cut } from './lines.js';

export interface DecodedEvent {
  message: string;
  /** File offset of the first record of the event: with the file identity, its id. */
  offset: number;
  /** File offset after its last record. */
  next: number;
  cut: Exclude<Cut, 'skipped'>;
  /** Event time (ms); default: the read time. */
  timestamp?: number;
  /** stdout / stderr: `source.stream`. */
  stream?: string;
  /** Added to the file's fields. */
  fields?: Record<string, FieldValue>;
}

export interface LineDecoder {
  /** One line of the file: bytes [start, end) of buf (only valid during the call), at file offsets [offset, next). */
  line(buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut, now: number): void;
  /** Emits what it holds whose time has come (`deadline()` passed); `quiet`: the file is at its end and idle that long. */
  tick(now: number, quiet: number): void;
  /** Emits everything held: the file will not continue it (rotated away and done, truncated). */
  flush(): void;
  /** When `tick` has something to do (ms since the epoch), Infinity when nothing is held. */
  deadline(lastGrowthAt: number): number;
  /** File offset of the first byte of the oldest record held, or Infinity. */
  heldFrom(): number;
}

/** What a format knows of a file from its path (and whatever lies beside it). */
export interface FileDescription {
  service: string;
  module: string;
  fields: Record<string, FieldValue>;
  /** `source.container` of its events. */
  container?: string;
}

/** Where a decoder's results go. */
export interface DecoderOutput {
  emit(e: DecodedEvent): void;
  /** Bytes up to `next` make no event (a record or message skipped as too long): the position may pass them. */
  skipped(next: number): void;
  /** Bytes up to `next` make no event of their own (the rest of a message handed on cut, damage): the position may pass them. */
  passed(next: number): void;
}

export interface FileFormat {
  /** `source.kind` of the events. */
  readonly kind: string;
  /** Longest line (record) read whole, in bytes; default: max_event_bytes. The decoder bounds the events it makes. */
  readonly maxLineBytes?: number;
  /**
   * Whether a file at `path` that starts like one followed at `was` may be that file found
   * again or its copy (and continue its position); default: wherever it lies.
   */
  readonly mayContinue?: (was: string, path: string) => boolean;
  /** Called before a file is first tailed; undefined: the file is not to be tailed (excluded). */
  describe(path: string): Promise<FileDescription | undefined>;
  /** A decoder for one file (one generation of it); `where` names the file in reports. */
  decoder(out: DecoderOutput, where: { path: string }): LineDecoder;
}

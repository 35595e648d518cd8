import type { LogEvent } from '../../../../core/event.js';

/**
 * How the events part of a record is encoded in one format version. Every version ever
 * written keeps a decoder (an upgrade with data in the channel loses nothing); only the
 * current one encodes.
 */
export interface EventsDecoder {
  readonly version: number;
  /**
   * Decodes the events part [start, end) of a verified record holding `count` events;
   * throws WireFormatError naming `where`, never anything else, whatever the bytes.
   */
  decode(buf: Buffer, start: number, end: number, count: number, where: string): LogEvent[];
}

export interface EventsEncoder extends EventsDecoder {
  /** Bytes the events part of `events` takes; the events are kept ready for write(). Throws a plain Error naming an event that cannot be stored. */
  prepare(events: readonly LogEvent[]): number;
  /** Writes the part prepared last at `at` of `out` (exactly the bytes prepare() returned). */
  write(out: Buffer, at: number): void;
}

import { createHash } from 'node:crypto';

/**
 * Event ids are derived from the event's origin, never random, so that a replay after a
 * crash (the channel redelivering, Kafka re-consuming) produces the same id and
 * Elasticsearch overwrites instead of duplicating (`_id` = event id). They are base64url:
 * safe in URLs, Kafka keys and Elasticsearch ids, and fixed length whatever the path.
 */

/** 128 bits of SHA-256 over the origin parts: 22 characters. */
export function eventId(...origin: (string | number)[]): string {
  return createHash('sha256').update(origin.join('\u0000')).digest().subarray(0, 16).toString('base64url');
}

const B64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');
/** 9 base64url digits hold 54 bits: every safe integer offset. */
const OFFSET_DIGITS = 9;

/**
 * Ids of the lines of one file: 96 bits of SHA-256 over the file's identity, computed once
 * per file, followed by the line's byte offset in 9 base64url digits (25 characters). A
 * file's lines differ by offset alone, so no line pays for a hash: at hundreds of
 * thousands of lines a second, a hash per line was a third of the tailer's CPU. The digits
 * are written into the id's bytes and the id made from them in one string: building it
 * digit by digit made a string per digit, a tenth of what the agent allocates per line.
 */
export class FileEventIds {
  /** The id's bytes: the file's part, then the offset's digits, rewritten per id. */
  private readonly bytes: Buffer;

  constructor(readonly fileId: string) {
    const prefix = createHash('sha256').update(`file\u0000${fileId}`).digest().subarray(0, 12).toString('base64url');
    this.bytes = Buffer.from(prefix + 'A'.repeat(OFFSET_DIGITS), 'latin1');
  }

  id(offset: number): string {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`file offset must be a non-negative safe integer, got ${offset}`);
    const b = this.bytes;
    let rest = offset;
    for (let i = b.length - 1; i >= b.length - OFFSET_DIGITS; i--) {
      b[i] = B64URL[rest % 64]!;
      rest = Math.floor(rest / 64);
    }
    return b.toString('latin1', 0, b.length);
  }
}

/** Id of a line read from a file: the file's identity and the line's byte offset. */
export function fileEventId(fileId: string, offset: number): string {
  return new FileEventIds(fileId).id(offset);
}

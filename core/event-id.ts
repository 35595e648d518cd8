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

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** 9 base64url digits hold 54 bits: every safe integer offset. */
const OFFSET_DIGITS = 9;

/**
 * Ids of the lines of one file: 96 bits of SHA-256 over the file's identity, computed once
 * per file, followed by the line's byte offset in 9 base64url digits (25 characters). A
 * file's lines differ by offset alone, so no line pays for a hash: at hundreds of
 * thousands of lines a second, a hash per line was a third of the tailer's CPU.
 */
export class FileEventIds {
  private readonly prefix: string;

  constructor(readonly fileId: string) {
    this.prefix = createHash('sha256').update(`file\u0000${fileId}`).digest().subarray(0, 12).toString('base64url');
  }

  id(offset: number): string {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`file offset must be a non-negative safe integer, got ${offset}`);
    let digits = '';
    let rest = offset;
    for (let i = 0; i < OFFSET_DIGITS; i++) {
      digits = B64URL[rest % 64] + digits;
      rest = Math.floor(rest / 64);
    }
    return this.prefix + digits;
  }
}

/** Id of a line read from a file: the file's identity and the line's byte offset. */
export function fileEventId(fileId: string, offset: number): string {
  return new FileEventIds(fileId).id(offset);
}

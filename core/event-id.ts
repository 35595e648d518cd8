import { createHash } from 'node:crypto';

/**
 * Event ids are derived from the event's origin, never random, so that a replay after a
 * crash (the channel redelivering, Kafka re-consuming) produces the same id and
 * Elasticsearch overwrites instead of duplicating (`_id` = event id).
 *
 * The id is 128 bits of SHA-256 over the origin parts, base64url: 22 characters, fixed
 * length whatever the path length, safe in URLs, Kafka keys and Elasticsearch ids.
 */
export function eventId(...origin: (string | number)[]): string {
  return createHash('sha256').update(origin.join('\u0000')).digest().subarray(0, 16).toString('base64url');
}

/** Id of a line read from a file: the file's identity and the line's byte offset. */
export function fileEventId(fileId: string, offset: number): string {
  return eventId('file', fileId, offset);
}

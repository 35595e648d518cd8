/**
 * The one event type that flows through every hop: sources create it, the channel and the
 * bus carry it in its wire encoding (core/wire.ts), sinks store it.
 */

/** A JSON value: what `fields` may hold, so every event survives the wire unchanged. */
export type FieldValue = string | number | boolean | null | FieldValue[] | { [key: string]: FieldValue };

/**
 * Where an event came from. `kind` says which source produced it; the rest depends on it:
 * a file event has the path, the file's identity and the byte offset of the line; a
 * container event has the container and its stream. Sinks may show it (the source path is
 * an Elasticsearch keyword), and the event id is derived from it.
 */
export interface SourceRef {
  kind: string;
  /** Path of the file the line was read from. */
  path?: string;
  /** Identity of the file that survives renames (device + inode + fingerprint). */
  fileId?: string;
  /** Byte offset of the first byte of the event in the file. */
  offset?: number;
  /** Container id, for container logs. */
  container?: string;
  /** stdout or stderr, for container logs. */
  stream?: string;
}

/**
 * The event times every sink can store: from 1970 to the end of year 9999 (file trees and
 * index names print four-digit years; Elasticsearch's `date` takes them all). A time
 * outside it is a misread (an epoch in nanoseconds where milliseconds were expected) or a
 * broken clock, never a real log time.
 */
export const MIN_EVENT_TIME = 0;
export const MAX_EVENT_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The field that keeps a time that could not be used, as it was given. */
export const TIME_INVALID_FIELD = 'log.time_invalid';

/**
 * Set by a sink that partitioned the event by its time of arrival (ISO 8601) because the
 * event time was beyond the sink's `max_event_age` or `max_future`; the event time is kept.
 */
export const TIME_PARTITION_FIELD = 'log.time_partition';

export function isValidEventTime(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_EVENT_TIME && ms <= MAX_EVENT_TIME;
}

/**
 * How deeply objects and arrays may nest in an event's fields. JSON.parse takes any depth,
 * but JSON.stringify (the channel's and the wire's encoders, the sinks') overflows the stack
 * from a few thousand levels: one such event would fail every write of its batch, for ever.
 * Logs nest a few levels; 64 leaves room for any real structure.
 */
export const MAX_FIELD_DEPTH = 64;

/** Whether `value` nests objects or arrays more than `max` levels deep (iterative: a deep value must not overflow the check). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as object))
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

export interface LogEvent {
  /** Stable id derived from where the event came from (core/event-id.ts): a replay yields the same id. */
  id: string;
  /** Event time in milliseconds since the Unix epoch. */
  timestamp: number;
  message: string;
  service: string;
  module: string;
  host: string;
  /**
   * Severity as the log line says it, lower-cased (`error`, `warn`, `info`, `debug`, ...);
   * absent when nothing in the line names one. Routes and `sluice search --level` use it.
   */
  level?: string;
  source: SourceRef;
  fields: Record<string, FieldValue>;
}

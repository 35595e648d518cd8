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

// A level's containers and the next's, kept between calls: the walk allocates nothing once
// they have grown (it runs on every event the wire decodes and every JSON line parsed).
let level: object[] = [];
let below: object[] = [];

/**
 * Whether `value` nests objects or arrays more than `max` levels deep (`value` itself is the
 * first): a walk a level at a time, no recursion, so a deep value cannot overflow the check.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  level.push(value);
  for (let depth = 1; level.length > 0 && depth <= max; depth++) {
    for (let i = 0; i < level.length; i++) {
      const node = level[i]!;
      if (Array.isArray(node)) {
        for (let j = 0; j < node.length; j++) {
          const v: unknown = node[j];
          if (typeof v === 'object' && v !== null) below.push(v);
        }
      } else {
        for (const key in node) {
          const v: unknown = (node as Record<string, unknown>)[key];
          if (typeof v === 'object' && v !== null) below.push(v);
        }
      }
    }
    level.length = 0;
    const done = level;
    level = below;
    below = done;
  }
  const deeper = level.length > 0;
  level.length = 0;
  return deeper;
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

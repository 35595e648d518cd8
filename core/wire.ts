import {
  type FieldValue,
  isValidEventTime,
  type LogEvent,
  MAX_FIELD_DEPTH,
  nestsDeeperThan,
  type SourceRef,
  TIME_INVALID_FIELD,
} from './event.js';

/**
 * The versioned wire encoding of a LogEvent: one JSON object per event, UTF-8. It is the
 * contract between agents and collectors (Kafka record values) and what the disk channel
 * stores, so a collector can run another version than its agents. JSON because any other
 * Kafka consumer (Kafka Connect, a stream processor) can read it without our code.
 *
 * Version 1:
 *   {"v":1,"id":string,"timestamp":number(ms),"service":string,"module":string,
 *    "host":string,"message":string,"source":{"kind":string,...},"fields":{...}}
 *   and optionally "level":string (absent: no level known).
 *
 * A reader rejects any other `v`: an agent newer than its collector is reported, not
 * misread. Adding an optional key is compatible; changing a key's meaning bumps `v`.
 */
export const WIRE_VERSION = 1;

export class WireFormatError extends Error {
  constructor(
    readonly reason: string,
    /** Where the bytes came from: "topic logs partition 3 offset 1234", "segment 7 at byte 4096". */
    readonly where?: string,
  ) {
    super(where ? `${reason} (${where})` : reason);
    this.name = 'WireFormatError';
  }
}

export function encodeEvent(event: LogEvent): Buffer {
  return Buffer.from(encodeEventString(event), 'utf8');
}

export function encodeEventString(event: LogEvent): string {
  return JSON.stringify({
    v: WIRE_VERSION,
    id: event.id,
    timestamp: event.timestamp,
    service: event.service,
    module: event.module,
    host: event.host,
    level: event.level,
    message: event.message,
    source: event.source,
    fields: event.fields,
  });
}

/**
 * Decodes one event; throws WireFormatError naming what is wrong and `where` it came from.
 * `arrival`: the time to give an event whose own time no sink can store (see below); the
 * same on every decode of the same bytes (a Kafka record's timestamp), so a replay names the
 * same file and index. Without it, the time of decoding.
 */
export function decodeEvent(data: Buffer | Uint8Array | string, where?: string, arrival?: number): LogEvent {
  let raw: unknown;
  try {
    // A Buffer is read as is: wrapping it in a new view first cost 10-15% of decoding a record.
    const text =
      typeof data === 'string'
        ? data
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    raw = JSON.parse(text);
  } catch (err) {
    throw new WireFormatError(`not a Sluice event: invalid JSON (${(err as Error).message})`, where);
  }
  return validateEvent(raw, where, arrival);
}

function validateEvent(raw: unknown, where: string | undefined, arrival: number | undefined): LogEvent {
  if (!isObject(raw)) throw new WireFormatError('not a Sluice event: expected a JSON object', where);
  if (raw.v !== WIRE_VERSION) {
    throw new WireFormatError(
      raw.v === undefined
        ? 'not a Sluice event: no wire version "v"'
        : `unsupported wire version ${JSON.stringify(raw.v)} (this Sluice reads version ${WIRE_VERSION})`,
      where,
    );
  }
  const fail = (key: string, expected: string): never => {
    throw new WireFormatError(`invalid event: "${key}" must be ${expected}, got ${describe(raw[key])}`, where);
  };
  // Each key read by name: one function reading raw[key] for every key made that load
  // megamorphic, a stub-cache probe per read of every record decoded.
  const { id, message, service, module, host } = raw;
  if (typeof id !== 'string') fail('id', 'a string');
  if ((id as string).length === 0) fail('id', 'a non-empty string');
  const timestamp = raw.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) fail('timestamp', 'a finite number (ms since epoch)');
  const source = raw.source;
  if (!isObject(source) || typeof source.kind !== 'string') fail('source', 'an object with a string "kind"');
  const level = raw.level;
  if (level !== undefined && typeof level !== 'string') fail('level', 'a string when present');
  const fields = raw.fields ?? {};
  if (!isObject(fields)) fail('fields', 'an object');
  if (nestsDeeperThan(fields, MAX_FIELD_DEPTH) || nestsDeeperThan(source, MAX_FIELD_DEPTH))
    throw new WireFormatError(`invalid event: "fields" or "source" nests deeper than ${MAX_FIELD_DEPTH} levels`, where);
  if (typeof message !== 'string') fail('message', 'a string');
  if (typeof service !== 'string') fail('service', 'a string');
  if (typeof module !== 'string') fail('module', 'a string');
  if (typeof host !== 'string') fail('host', 'a string');
  const event: LogEvent = {
    id: id as string,
    timestamp: timestamp as number,
    message: message as string,
    service: service as string,
    module: module as string,
    host: host as string,
    source: source as unknown as SourceRef,
    fields: fields as Record<string, FieldValue>,
  };
  if (level !== undefined) event.level = level as string;
  if (!isValidEventTime(event.timestamp)) {
    // One event with a time no sink can store must not stop its partition: it is kept,
    // at the time it arrived, with the time it claimed beside it.
    event.fields = { ...event.fields, [TIME_INVALID_FIELD]: event.timestamp };
    event.timestamp = arrival !== undefined && isValidEventTime(arrival) ? arrival : Date.now();
  }
  return event;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

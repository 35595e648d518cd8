import type { DeadLetterEntry } from '../core/dead-letter.js';
import { counter } from '../core/metrics.js';
import { encodeEventString } from '../core/wire.js';

/** The entry format and its count, the same for every dead-letter type. */

const deadLettered = counter(
  'sluice_dead_letter_entries_total',
  'Records and events sent to the dead-letter, by kind (record: undecodable; event: unrouted or rejected by a sink; refused: by the bus)',
  ['kind'],
);

/**
 * What makes an entry the same one when it is written again (a batch read again after a
 * crash, a write retried after a failure): the record it stands for, else its event and
 * reason. Undefined: nothing identifies it, and every write is a new entry.
 */
export function entryIdentity(entry: {
  reason: string;
  topic?: string;
  partition?: number;
  offset?: string;
  event?: { id: string };
}): string | undefined {
  if (entry.topic !== undefined && entry.partition !== undefined && entry.offset !== undefined)
    return `r ${entry.topic} ${entry.partition} ${entry.offset}`;
  if (entry.event) return `e ${entry.event.id} ${entry.reason}`;
  return undefined;
}

/**
 * One JSON object per entry: `time`, `reason`, then `topic`/`partition`/`offset`/`key`/`value`
 * for a bad record (value as UTF-8 text when it is valid UTF-8, else `value_base64`), or
 * `event` (the wire format object) for an unrouted event, after `topic` and `bytes` for an
 * event the bus refused.
 */
export function formatEntry(entry: DeadLetterEntry, now = Date.now()): string {
  const out: Record<string, unknown> = { time: new Date(now).toISOString(), reason: entry.reason };
  if (entry.topic !== undefined) out.topic = entry.topic;
  if (entry.partition !== undefined) out.partition = entry.partition;
  if (entry.offset !== undefined) out.offset = entry.offset;
  if (entry.bytes !== undefined) out.bytes = entry.bytes;
  if (entry.key) putBytes(out, 'key', entry.key);
  if (entry.value !== undefined) {
    if (entry.value === null) out.value = null;
    else putBytes(out, 'value', entry.value);
  }
  if (entry.event) {
    // The event as the wire carries it, so a fixed route can replay it unchanged.
    return `${JSON.stringify(out).slice(0, -1)},"event":${encodeEventString(entry.event)}}`;
  }
  return JSON.stringify(out);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function putBytes(out: Record<string, unknown>, name: string, bytes: Buffer): void {
  try {
    out[name] = utf8.decode(bytes);
  } catch {
    out[`${name}_base64`] = bytes.toString('base64');
  }
}

/** Counts entries written to a dead-letter, by kind. */
export function countDeadLettered(entries: readonly DeadLetterEntry[]): void {
  let records = 0;
  let refused = 0;
  for (const e of entries) {
    if (!e.event) records++;
    else if (e.topic !== undefined) refused++;
  }
  if (records > 0) deadLettered.inc({ kind: 'record' }, records);
  if (refused > 0) deadLettered.inc({ kind: 'refused' }, refused);
  const events = entries.length - records - refused;
  if (events > 0) deadLettered.inc({ kind: 'event' }, events);
}

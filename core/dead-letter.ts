import { Counter } from 'prom-client';
import { AppendFile } from './append-file.js';
import type { LogEvent } from './event.js';
import type { Logger } from './log.js';
import { metrics } from './metrics.js';
import { encodeEventString } from './wire.js';

/**
 * Where a process puts what it cannot deliver, instead of dropping it. The collector: bus
 * records that do not decode (with their topic/partition/offset), and events no route or
 * destination accepted. The agent: events the bus refused for good (with the topic and the
 * record's size). A write resolves only once the entries are durable, so what is behind
 * them (bus offsets, a channel transaction) may commit.
 */
export interface DeadLetterEntry {
  reason: string;
  /** Kafka coordinates of a record that could not be decoded; the topic alone for an event the bus refused. */
  topic?: string;
  partition?: number;
  offset?: string;
  key?: Buffer | null;
  /** The raw record value, as received. */
  value?: Buffer | null;
  /** An event that decoded but that nothing would take, or that the bus refused. */
  event?: LogEvent;
  /** The size in bytes of the record the bus refused (its encoded value). */
  bytes?: number;
}

export interface DeadLetter {
  open(): Promise<void>;
  write(entries: readonly DeadLetterEntry[]): Promise<void>;
  close(): Promise<void>;
}

const deadLettered = new Counter({
  name: 'sluice_dead_letter_entries_total',
  help: 'Records and events sent to the dead-letter, by kind (record: undecodable; event: unrouted or rejected by a sink; refused: by the bus)',
  labelNames: ['kind'] as const,
  registers: [metrics],
});

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

/** At most one "wrote to the dead-letter" line per this interval; the entries between are summed into the next. */
const LOG_EVERY_MS = 10_000;

/** What makes an entry the same entry when a batch is read again after a crash. */
function entryKey(entry: {
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

/** How much of the file's end is read at open to learn what it already holds. */
const REMEMBER_BYTES = 16 * 1024 * 1024;
const REMEMBER_KEYS = 200_000;

/**
 * Appends JSON lines to a local file, fsync'd before write() resolves, never leaving a cut
 * line (core/append-file.ts). Idempotent: a batch re-read after a crash (its offsets were not
 * committed) dead-letters the same records again; entries already in the file (by Kafka
 * coordinates, or event id and reason) are not written twice. What it remembers is bounded:
 * the keys found in the file's last 16 MiB at open, and the newest 200,000.
 */
export class FileDeadLetter implements DeadLetter {
  private readonly file: AppendFile;
  private readonly seen = new Set<string>();
  /** Entries written since the last log line, and when that was. */
  private unlogged = 0;
  private loggedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    this.file = new AppendFile(path);
  }

  async open(): Promise<void> {
    const cut = await this.file.open();
    if (cut > 0) this.logger.warn({ file: this.path, bytes: cut }, 'dead-letter torn tail cut');
    for (const line of (await this.file.readTail(REMEMBER_BYTES)).split('\n')) {
      if (!line) continue;
      try {
        const key = entryKey(JSON.parse(line));
        if (key) this.remember(key);
      } catch {
        // A line that is not JSON was not written by this class; it holds no key.
      }
    }
  }

  async write(entries: readonly DeadLetterEntry[]): Promise<void> {
    const fresh: DeadLetterEntry[] = [];
    const keys: string[] = [];
    for (const e of entries) {
      const key = entryKey(e);
      if (key !== undefined) {
        if (this.seen.has(key) || keys.includes(key)) continue;
        keys.push(key);
      }
      fresh.push(e);
    }
    if (fresh.length === 0) return;
    await this.file.append(`${fresh.map((e) => formatEntry(e)).join('\n')}\n`);
    for (const key of keys) this.remember(key);
    countDeadLettered(fresh);
    this.unlogged += fresh.length;
    // A stream of poison events must not become a stream of log lines: one per interval.
    if (Date.now() - this.loggedAt >= LOG_EVERY_MS) this.logWritten(fresh[0]!.reason);
  }

  async close(): Promise<void> {
    await this.file.close();
    if (this.unlogged > 0) this.logWritten(undefined);
  }

  private logWritten(reason: string | undefined): void {
    this.logger.warn({ entries: this.unlogged, file: this.path, reason }, 'wrote to the dead-letter');
    this.unlogged = 0;
    this.loggedAt = Date.now();
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > REMEMBER_KEYS) {
      for (const old of this.seen) {
        this.seen.delete(old);
        if (this.seen.size <= REMEMBER_KEYS) break;
      }
    }
  }
}

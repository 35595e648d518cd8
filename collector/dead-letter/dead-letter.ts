import { Counter } from 'prom-client';
import { AppendFile } from '../../core/append-file.js';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import type { BusRecordWriter } from '../../core/pipeline.js';
import { encodeEventString } from '../../core/wire.js';

/**
 * Where the collector puts what it cannot deliver, instead of dropping it: bus records that
 * do not decode (with their topic/partition/offset), and events no route accepted. A write
 * resolves only once the entries are durable, so the bus offsets behind them may commit.
 */
export interface DeadLetterEntry {
  reason: string;
  /** Kafka coordinates of a record that could not be decoded. */
  topic?: string;
  partition?: number;
  offset?: string;
  key?: Buffer | null;
  /** The raw record value, as received. */
  value?: Buffer | null;
  /** An event that decoded but that nothing would take. */
  event?: LogEvent;
}

export interface DeadLetter {
  open(): Promise<void>;
  write(entries: readonly DeadLetterEntry[]): Promise<void>;
  close(): Promise<void>;
}

const deadLettered = new Counter({
  name: 'sluice_dead_letter_entries_total',
  help: 'Records and events sent to the dead-letter, by kind (undecodable record, unrouted event)',
  labelNames: ['kind'] as const,
  registers: [metrics],
});

/**
 * One JSON object per entry: `time`, `reason`, then `topic`/`partition`/`offset`/`key`/`value`
 * for a bad record (value as UTF-8 text when it is valid UTF-8, else `value_base64`), or
 * `event` (the wire format object) for an unrouted event.
 */
export function formatEntry(entry: DeadLetterEntry, now = Date.now()): string {
  const out: Record<string, unknown> = { time: new Date(now).toISOString(), reason: entry.reason };
  if (entry.topic !== undefined) out.topic = entry.topic;
  if (entry.partition !== undefined) out.partition = entry.partition;
  if (entry.offset !== undefined) out.offset = entry.offset;
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

function count(entries: readonly DeadLetterEntry[]): void {
  let records = 0;
  for (const e of entries) if (!e.event) records++;
  if (records > 0) deadLettered.inc({ kind: 'record' }, records);
  if (entries.length > records) deadLettered.inc({ kind: 'event' }, entries.length - records);
}

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
    count(fresh);
    this.logger.warn({ entries: fresh.length, file: this.path, reason: fresh[0]!.reason }, 'wrote to the dead-letter');
  }

  async close(): Promise<void> {
    await this.file.close();
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

/** Produces entries to a topic of the bus (Kafka: acks=all, idempotent), through the bus's own client. */
export class KafkaDeadLetter implements DeadLetter {
  constructor(
    private readonly writer: BusRecordWriter,
    readonly topic: string,
    private readonly logger: Logger,
  ) {}

  async open(): Promise<void> {}

  async write(entries: readonly DeadLetterEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.writer.write(
        entries.map((e) => ({
          key: e.key ?? (e.event ? `${e.event.service}/${e.event.module}` : null),
          value: formatEntry(e),
          headers: { reason: e.reason },
        })),
      );
    } catch (err) {
      throw new Error(`dead-letter ${(err as Error).message}`);
    }
    count(entries);
    this.logger.warn({ entries: entries.length, topic: this.topic, reason: entries[0]!.reason }, 'wrote to the dead-letter');
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}

import { Backoff } from '../../core/backoff.js';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import type { UndecodableRecord } from '../../core/pipeline.js';
import { WireFormatError, decodeEvent } from '../../core/wire.js';
import type { PartitionWrites } from './uncommitted.js';

/** A fetched record as both clients hand it over (kafkajs: string offsets; librdkafka: numbers). */
export interface RawRecord {
  offset: string | number;
  key?: Buffer | string | null;
  value: Buffer | null;
  /** Its Kafka timestamp, ms (kafkajs: a string); -1 or absent when it has none. */
  timestamp?: string | number;
}

/** Decodes one record value into an event; returns the reason when it is not one. */
export function decodeRecord(value: Buffer | null, timestamp?: string | number): LogEvent | string {
  if (value === null) return 'record has no value (a tombstone?), not a Sluice event';
  try {
    return decodeEvent(value, undefined, timestamp === undefined ? undefined : Number(timestamp));
  } catch (err) {
    return err instanceof WireFormatError ? err.reason : String(err);
  }
}

/** One partition's fetched records, split into the events to deliver and the records for the dead-letter. */
export interface DecodedBatch {
  events: LogEvent[];
  /** Event id per record, null for a record that did not decode (what UncommittedWrites remembers). */
  ids: (string | null)[];
  undecodable: UndecodableRecord[];
  /** Records this process already wrote before their offset commit failed: not delivered again. */
  skipped: number;
  /** Value bytes of the records. */
  bytes: number;
}

export function decodeBatch(
  topic: string,
  partition: number,
  records: readonly RawRecord[],
  written: PartitionWrites | undefined,
): DecodedBatch {
  const events: LogEvent[] = [];
  const ids = new Array<string | null>(records.length);
  const undecodable: UndecodableRecord[] = [];
  let bytes = 0;
  let skipped = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const value = r.value ?? null;
    bytes += value?.length ?? 0;
    const decoded = decodeRecord(value, r.timestamp);
    if (typeof decoded === 'string') {
      ids[i] = null;
      const key = r.key === undefined || r.key === null ? null : typeof r.key === 'string' ? Buffer.from(r.key) : r.key;
      undecodable.push({ reason: decoded, topic, partition, offset: String(r.offset), key, value });
      continue;
    }
    ids[i] = decoded.id;
    if (written?.has(BigInt(r.offset), decoded.id)) skipped++;
    else events.push(decoded);
  }
  return { events, ids, undecodable, skipped, bytes };
}

/**
 * Hands undecodable records to the dead-letter, retrying with backoff until it takes them
 * (the batch is not committed before): resolves once they are durably kept, rejects only
 * when the consumer stops or there is no dead-letter at all.
 */
export async function keepUndecodable(
  records: readonly UndecodableRecord[],
  undecodable: ((records: readonly UndecodableRecord[]) => Promise<void>) | undefined,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  if (!undecodable)
    throw new Error(`${records.length} records do not decode and no dead-letter is configured (first: ${records[0]!.reason})`);
  const backoff = new Backoff(100, 30_000);
  let failing = false;
  for (;;) {
    if (signal.aborted) throw new Error('collector stopping: dead-letter entries not written');
    try {
      await undecodable(records);
      return;
    } catch (err) {
      if (!failing) {
        failing = true;
        logger.error({ err: (err as Error).message }, 'dead-letter write failed; retrying, the batch is not committed until it is written');
      }
      await backoff.sleep(signal);
    }
  }
}

/** Hands events to the collector and resolves once it acked them (every sink wrote them durably). */
export function deliverAndWait(
  deliver: (batch: { events: readonly LogEvent[]; lane?: string; ack(): Promise<void> }) => Promise<void>,
  events: readonly LogEvent[],
  topic: string,
  partition: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // The lane names the partition as Kafka Connect names its files: topic+partition.
    deliver({ events, lane: `${topic}+${partition}`, ack: async () => resolve() }).catch(reject);
  });
}

import { join, resolve } from 'node:path';
import type { DeadLetter, DeadLetterEntry } from '../../core/dead-letter.js';
import type { Logger } from '../../core/log.js';
import { counter } from '../../core/metrics.js';
import type { BusRecord, BusRecordRefusal, BusRecordWriter, BusRecordWriteResult } from '../../core/pipeline.js';
import type { ComponentSpec } from '../../core/registry.js';
import { countDeadLettered, entryIdentity, formatEntry } from '../entry.js';
import { FileDeadLetter, workerPath } from '../file/file-dead-letter.js';
import type { KafkaDeadLetterOptions } from './options.js';

const refusedByTopic = counter(
  'sluice_dead_letter_topic_refused_entries_total',
  'Dead-letter entries the dead-letter topic refused for good (too large, invalid, not authorized), kept in the local refused_path file instead, by Kafka error',
  ['error'],
);

/** Where the entries the topic refuses go: a file dead-letter, fsync'd before its write resolves. */
export type RefusedFile = Pick<FileDeadLetter, 'path' | 'open' | 'write' | 'close'>;

/**
 * Produces entries to a topic of the bus (Kafka: acks=all, idempotent), through the bus's own
 * client. An entry the topic refuses for good (larger than its max.message.bytes, or another
 * refusal of bus/kafka/refusal.ts) would be refused at every retry and hold the partition
 * behind it: what Kafka refused cannot go to Kafka, so it goes to a local file instead, and
 * the write resolves once that file has it.
 */
export class KafkaDeadLetter implements DeadLetter {
  /**
   * Entries the topic acked in a write that failed because the file could not keep the ones
   * the topic refused: the collector writes the same entries again, and these are not
   * produced a second time. Each is forgotten when a write skips it, and remembered again if
   * that write fails too.
   */
  private readonly inTopic = new Set<string>();

  constructor(
    private readonly writer: BusRecordWriter,
    readonly topic: string,
    private readonly refusedFile: RefusedFile,
    private readonly logger: Logger,
  ) {}

  async open(): Promise<void> {
    await this.refusedFile.open();
  }

  async write(entries: readonly DeadLetterEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const send: DeadLetterEntry[] = [];
    const carried: string[] = [];
    for (const e of entries) {
      const id = this.inTopic.size === 0 ? undefined : entryIdentity(e);
      if (id !== undefined && this.inTopic.delete(id)) carried.push(id);
      else send.push(e);
    }
    const records: BusRecord[] = send.map((e) => ({
      key: e.key ?? (e.event ? `${e.event.service}/${e.event.module}` : null),
      value: formatEntry(e),
      headers: { reason: e.reason },
      id: entryIdentity(e),
    }));
    let result: BusRecordWriteResult;
    try {
      result = await this.writer.write(records);
    } catch (err) {
      for (const id of carried) this.inTopic.add(id);
      throw new Error(`dead-letter ${(err as Error).message}`);
    }
    let kept = entries;
    if (result.refused.length > 0) {
      const refused = new Set(result.refused.map((r) => send[r.index]!));
      try {
        await this.keepRefused(send, records, result.refused);
      } catch (err) {
        for (const id of carried) this.inTopic.add(id);
        for (let i = 0; i < send.length; i++) {
          const id = refused.has(send[i]!) ? undefined : records[i]!.id;
          if (id !== undefined) this.inTopic.add(id);
        }
        throw err;
      }
      kept = entries.filter((e) => !refused.has(e));
      if (kept.length === 0) return;
    }
    countDeadLettered(kept);
    this.logger.warn({ entries: kept.length, topic: this.topic, reason: kept[0]!.reason }, 'wrote to the dead-letter');
  }

  async close(): Promise<void> {
    await Promise.all([this.writer.close(), this.refusedFile.close()]);
  }

  /** The entries the topic refused, in the file; resolves once they are durable there. */
  private async keepRefused(
    send: readonly DeadLetterEntry[],
    records: readonly BusRecord[],
    refused: readonly BusRecordRefusal[],
  ): Promise<void> {
    const file = this.refusedFile.path;
    try {
      await this.refusedFile.write(refused.map((r) => send[r.index]!));
    } catch (err) {
      throw new Error(
        `dead-letter topic ${this.topic} refused ${refused.length} entries for good (${refused[0]!.reason}) and ${file} could not keep them: ${(err as Error).message}`,
      );
    }
    // One line per reason and write: a topic refused as a whole (not authorized) refuses every entry.
    const byReason = new Map<string, { error: string; entries: number; bytes: number }>();
    for (const r of refused) {
      let seen = byReason.get(r.reason);
      if (!seen) byReason.set(r.reason, (seen = { error: r.error, entries: 0, bytes: 0 }));
      seen.entries++;
      seen.bytes += Buffer.byteLength(records[r.index]!.value);
    }
    for (const [reason, { error, entries, bytes }] of byReason) {
      refusedByTopic.inc({ error }, entries);
      this.logger.warn(
        { topic: this.topic, reason, entries, bytes, file },
        'the dead-letter topic refused entries for good; kept them in the file',
      );
    }
  }
}

/**
 * What the spec's load() imports (index.ts): a writer to the topic, through the bus's own
 * client, and the file for what the topic refuses. Without `refused_path` that file is
 * DATA_DIR/dead-letter/refused.jsonl; collector workers after the first each write their own
 * beside it (`refused.worker-2.jsonl`), as the file dead-letter does.
 */
export const kafkaDeadLetterCreate: Pick<ComponentSpec<'dead_letter', KafkaDeadLetterOptions, DeadLetter>, 'create'> = {
  create: (options, ctx) => {
    // The config check ("a kafka dead-letter uses the brokers of the kafka bus") keeps this from happening.
    if (!ctx.bus?.recordWriter) throw new Error('dead_letter type kafka needs the kafka bus (bus: {type: kafka, ...})');
    const refusedPath = workerPath(resolve(options.refused_path ?? join(ctx.dataDir, 'refused.jsonl')), ctx.worker);
    return new KafkaDeadLetter(ctx.bus.recordWriter(options.topic), options.topic, new FileDeadLetter(refusedPath, ctx.logger), ctx.logger);
  },
};

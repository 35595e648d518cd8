import { countDeadLettered, type DeadLetter, type DeadLetterEntry, formatEntry } from '../../core/dead-letter.js';
import type { Logger } from '../../core/log.js';
import type { BusRecordWriter } from '../../core/pipeline.js';

// The entry format and the file dead-letter are shared with the agent (core/dead-letter.ts).
export { type DeadLetter, type DeadLetterEntry, FileDeadLetter, formatEntry } from '../../core/dead-letter.js';

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
    countDeadLettered(entries);
    this.logger.warn({ entries: entries.length, topic: this.topic, reason: entries[0]!.reason }, 'wrote to the dead-letter');
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}

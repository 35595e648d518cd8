import type { DeadLetter, DeadLetterEntry } from '../../core/dead-letter.js';
import type { Logger } from '../../core/log.js';
import type { BusRecordWriter } from '../../core/pipeline.js';
import type { ComponentSpec } from '../../core/registry.js';
import { countDeadLettered, entryIdentity, formatEntry } from '../entry.js';
import type { KafkaDeadLetterOptions } from './options.js';

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
          id: entryIdentity(e),
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

/** What the spec's load() imports (index.ts): a writer to the topic, through the bus's own client. */
export const kafkaDeadLetterCreate: Pick<ComponentSpec<'dead_letter', KafkaDeadLetterOptions, DeadLetter>, 'create'> = {
  create: (options, ctx) => {
    // The config check ("a kafka dead-letter uses the brokers of the kafka bus") keeps this from happening.
    if (!ctx.bus?.recordWriter) throw new Error('dead_letter type kafka needs the kafka bus (bus: {type: kafka, ...})');
    return new KafkaDeadLetter(ctx.bus.recordWriter(options.topic), options.topic, ctx.logger);
  },
};

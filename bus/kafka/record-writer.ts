import type { BusRecord, BusRecordWriter } from '../../core/pipeline.js';
import type { ClientSetup } from './client.js';

/**
 * Writes records as they are to one topic (acks=all, idempotent): the collector's dead-letter
 * topic. Each client sends; a failure names the topic.
 */
export abstract class TopicRecordWriter implements BusRecordWriter {
  constructor(
    protected readonly setup: ClientSetup,
    readonly topic: string,
  ) {}

  async write(records: readonly BusRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.send(records);
    } catch (err) {
      await this.failed();
      throw new Error(`topic ${this.topic}: ${this.describe(err)}`);
    }
  }

  abstract close(): Promise<void>;

  /** Hands the records over and resolves once Kafka acked every one. */
  protected abstract send(records: readonly BusRecord[]): Promise<void>;

  protected abstract describe(err: unknown): string;

  /** After a failed send: what the client lets go of (nothing by default). */
  protected async failed(): Promise<void> {}
}

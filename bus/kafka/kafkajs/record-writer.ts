import type { Producer } from 'kafkajs';
import type { BusRecord } from '../../../core/pipeline.js';
import { TopicRecordWriter } from '../record-writer.js';
import { createKafka, describeError } from './config.js';

/** The dead-letter topic's writer on kafkajs. */
export class KafkajsRecordWriter extends TopicRecordWriter {
  private producer: Producer | undefined;

  protected async send(records: readonly BusRecord[]): Promise<void> {
    if (!this.producer) {
      this.producer = createKafka(this.setup, '-dead-letter').producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
        retry: { retries: 3 },
      });
      await this.producer.connect();
    }
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
    });
  }

  protected describe(err: unknown): string {
    return describeError(err);
  }

  /** A failed producer is dropped: the next write connects afresh. */
  protected override async failed(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}

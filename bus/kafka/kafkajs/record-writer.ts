import type { Producer } from 'kafkajs';
import type { BusRecord, BusRecordWriter } from '../../../core/pipeline.js';
import type { ClientSetup } from '../client.js';
import { createKafka, describeError } from './config.js';

/** Writes records as they are to one topic (acks=all, idempotent): the collector's dead-letter topic. */
export class KafkajsRecordWriter implements BusRecordWriter {
  private producer: Producer | undefined;

  constructor(
    private readonly setup: ClientSetup,
    readonly topic: string,
  ) {}

  async write(records: readonly BusRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
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
    } catch (err) {
      const producer = this.producer;
      this.producer = undefined;
      await producer?.disconnect().catch(() => undefined);
      throw new Error(`topic ${this.topic}: ${describeError(err)}`);
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}

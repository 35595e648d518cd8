import type { BusRecord, BusRecordWriter, BusRecordWriteResult } from '../../core/pipeline.js';
import type { ClientSetup } from './client.js';
import { type Refusal, refusalReason } from './refusal.js';

/** A record Kafka refused for good (bus/kafka/refusal.ts), as a client's send found it. */
export interface RefusedRecord {
  record: BusRecord;
  refusal: Refusal;
  /** What the client said. */
  detail: string;
}

/** Shared by the writes Kafka refused nothing of. */
const NOTHING_REFUSED: BusRecordWriteResult = Object.freeze({ refused: Object.freeze([]) });

/**
 * Writes records as they are to one topic (acks=all, idempotent): the collector's dead-letter
 * topic. Each client sends; a record Kafka refuses for good is reported in the result, not
 * thrown, so the others are written and the caller keeps it elsewhere; any other failure
 * rejects, naming the topic.
 */
export abstract class TopicRecordWriter implements BusRecordWriter {
  constructor(
    protected readonly setup: ClientSetup,
    readonly topic: string,
  ) {}

  async write(records: readonly BusRecord[]): Promise<BusRecordWriteResult> {
    if (records.length === 0) return NOTHING_REFUSED;
    let refused: readonly RefusedRecord[];
    try {
      refused = await this.send(records);
    } catch (err) {
      await this.failed();
      throw new Error(`topic ${this.topic}: ${this.describe(err)}`);
    }
    if (refused.length === 0) return NOTHING_REFUSED;
    const at = new Map(records.map((r, i) => [r, i]));
    return {
      refused: refused
        .map(({ record, refusal, detail }) => ({ index: at.get(record)!, error: refusal.name, reason: refusalReason(refusal, detail) }))
        .sort((a, b) => a.index - b.index),
    };
  }

  abstract close(): Promise<void>;

  /**
   * Hands the records over and resolves once Kafka acked every one but those it refused for
   * good (each refused on its own, not for its batch's sake), which it resolves with.
   */
  protected abstract send(records: readonly BusRecord[]): Promise<readonly RefusedRecord[]>;

  protected abstract describe(err: unknown): string;

  /** After a failed send: what the client lets go of (nothing by default). */
  protected async failed(): Promise<void> {}
}

import type { BusRecord } from '../../../core/pipeline.js';
import { TopicRecordWriter } from '../record-writer.js';
import { AckedMemory, type SendAttempt } from '../resend.js';
import { connectTimeout, connectionConfig } from './config.js';
import { Deliveries, STALLED, within } from './deliveries.js';
import { type NativeError, type NativeProducer, describeNativeError, loadNative } from './native.js';
import { StalledRecords } from './stalled.js';

/**
 * The dead-letter topic's writer on librdkafka. Like the bus's producer (producer.ts), it
 * never lets librdkafka give a record up (message.timeout.ms 0) and bounds the wait itself:
 * a write not acked within request_timeout fails, and its records that carry an id stay
 * held, so the collector's retry of the same entries waits for them instead of appending a
 * second copy the broker cannot tell from a new record.
 */
export class LibrdkafkaRecordWriter extends TopicRecordWriter {
  private readonly deliveries = new Deliveries();
  private readonly stalled = new StalledRecords();
  /**
   * Records Kafka acked in a write that failed all the same (another of its records was not
   * acked): the collector writes the same entries again, and these are not appended a second
   * time.
   */
  private readonly acked = new AckedMemory<BusRecord>((r) => r.id, 'failed-only');
  private producer: Promise<NativeProducer> | undefined;

  protected async send(records: readonly BusRecord[]): Promise<void> {
    const producer = await this.connected();
    const attempt = this.acked.begin(records);
    if (attempt.skipped > 0)
      this.setup.logger.info(
        { topic: this.topic, records: records.length, skipped: attempt.skipped },
        'not writing again the dead-letter records Kafka acked before the last write failed',
      );
    try {
      await this.sendAttempt(producer, attempt, records.length);
      this.acked.succeeded(attempt);
    } catch (err) {
      // A failure sendAttempt did not report settled nothing; what it skipped comes back.
      this.acked.failed(attempt, () => false);
      throw err;
    }
  }

  private async sendAttempt(producer: NativeProducer, attempt: SendAttempt<BusRecord>, total: number): Promise<void> {
    const { items } = attempt;
    const fresh: BusRecord[] = [];
    /** Where each fresh record is in `items`. */
    const freshAt: number[] = [];
    const held: Promise<NativeError | null>[] = [];
    /** Where each held record is in `items`. */
    const heldAt: number[] = [];
    let heldOpen = 0;
    for (let i = 0; i < items.length; i++) {
      const r = items[i]!;
      const report = r.id === undefined ? undefined : this.stalled.claim(r.id);
      if (!report) {
        fresh.push(r);
        freshAt.push(i);
        continue;
      }
      heldOpen++;
      heldAt.push(i);
      held.push(
        report.then((err) => {
          heldOpen--;
          return err;
        }),
      );
    }
    if (held.length > 0)
      this.setup.logger.info(
        { topic: this.topic, records: total, queued: held.length },
        'waiting for the dead-letter records librdkafka still holds from a write given up on, not producing them again',
      );
    const failed = (ackedFresh: Uint8Array, heldErrors: readonly (NativeError | null)[] | undefined): void => {
      const acked = new Uint8Array(items.length);
      for (let j = 0; j < fresh.length; j++) if (ackedFresh[j] === 1) acked[freshAt[j]!] = 1;
      if (heldErrors) for (let j = 0; j < heldAt.length; j++) if (heldErrors[j] === null) acked[heldAt[j]!] = 1;
      this.acked.failed(attempt, (i) => acked[i] === 1);
    };
    const sending = this.deliveries.start(fresh.length);
    for (let i = 0; i < fresh.length; i++) {
      const r = fresh[i]!;
      const headers = r.headers ? Object.entries(r.headers).map(([k, v]) => ({ [k]: v })) : undefined;
      try {
        producer.produce(this.topic, null, Buffer.from(r.value), r.key, null, sending.base + i, headers);
      } catch (err) {
        sending.failFrom(i, err as NativeError);
        break;
      }
    }
    const timeout = this.setup.options.producer.request_timeout;
    const settled = await within(timeout, Promise.all([sending.outcome, Promise.all(held)]));
    if (!settled) {
      // The held records stay held (not settled), reported or not: the next write of their
      // entries learns their outcome from there, however late their reports come.
      const late = new Map<number, (err: NativeError | null) => void>();
      const outcome = sending.giveUp((i, err) => late.get(i)?.(err));
      failed(outcome.acked, undefined); // the held ones are not counted: they stay held
      let waiting = 0;
      for (const [i, err] of outcome.failed) {
        if (err !== STALLED) continue;
        waiting++;
        const id = fresh[i]!.id;
        if (id !== undefined) late.set(i, this.stalled.hold(id));
      }
      throw new Error(`${waiting + heldOpen} of ${total} records not acked within ${timeout} ms`);
    }
    const [outcome, heldErrors] = settled;
    for (const i of heldAt) this.stalled.settled(items[i]!.id!);
    const error = outcome.failed.values().next().value ?? heldErrors.find((e) => e !== null);
    if (error) {
      failed(outcome.acked, heldErrors);
      throw error;
    }
  }

  protected describe(err: unknown): string {
    return describeNativeError(err);
  }

  async close(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined);
    this.producer = undefined;
    if (producer) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }

  private connected(): Promise<NativeProducer> {
    this.producer ??= new Promise<NativeProducer>((resolve, reject) => {
      const p = this.setup.options.producer;
      const producer = new (loadNative().Producer)({
        ...connectionConfig(this.setup, '-dead-letter'),
        'enable.idempotence': true,
        acks: 'all',
        'request.timeout.ms': p.request_timeout,
        // Never given up by librdkafka: see the class comment.
        'message.timeout.ms': 0,
        'allow.auto.create.topics': true,
        partitioner: 'murmur2_random',
        dr_cb: true,
      });
      producer.on('delivery-report', (err, report) => this.deliveries.report(err, report));
      producer.on('event.error', (err) =>
        this.setup.logger.debug({ err: describeNativeError(err) }, 'librdkafka dead-letter producer error'),
      );
      producer.connect({ timeout: connectTimeout(this.setup.options) }, (err) => {
        if (err) {
          // The binding has disconnected it already; disconnect() would now throw "Producer
          // not connected" out of this callback and end the process.
          reject(err);
        } else {
          producer.setPollInBackground(true);
          resolve(producer);
        }
      });
    });
    this.producer.catch(() => (this.producer = undefined));
    return this.producer;
  }
}

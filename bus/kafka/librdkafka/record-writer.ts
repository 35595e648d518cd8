import type { BusRecord } from '../../../core/pipeline.js';
import { TopicRecordWriter } from '../record-writer.js';
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
   * Ids of records Kafka acked in a write that failed all the same (another of its records
   * was not acked): the collector writes the same entries again, and these are not appended
   * a second time. Each is forgotten when a write skips it, and remembered again if that
   * write fails too; so it holds at most the entries of the writes being retried.
   */
  private readonly ackedOfFailed = new Set<string>();
  private producer: Promise<NativeProducer> | undefined;

  protected async send(records: readonly BusRecord[]): Promise<void> {
    const producer = await this.connected();
    const fresh: BusRecord[] = [];
    const held: Promise<NativeError | null>[] = [];
    const heldIds: string[] = [];
    /** Skipped as acked by an earlier write: remembered again if this one fails. */
    const carried: string[] = [];
    let heldOpen = 0;
    for (const r of records) {
      if (r.id !== undefined && this.ackedOfFailed.delete(r.id)) {
        carried.push(r.id);
        continue;
      }
      const report = r.id === undefined ? undefined : this.stalled.claim(r.id);
      if (!report) {
        fresh.push(r);
        continue;
      }
      heldOpen++;
      heldIds.push(r.id!);
      held.push(
        report.then((err) => {
          heldOpen--;
          return err;
        }),
      );
    }
    if (carried.length > 0)
      this.setup.logger.info(
        { topic: this.topic, records: records.length, skipped: carried.length },
        'not writing again the dead-letter records Kafka acked before the last write failed',
      );
    if (held.length > 0)
      this.setup.logger.info(
        { topic: this.topic, records: records.length, queued: held.length },
        'waiting for the dead-letter records librdkafka still holds from a write given up on, not producing them again',
      );
    const rememberAcked = (ackedFresh: Uint8Array): void => {
      for (const id of carried) this.ackedOfFailed.add(id);
      for (let i = 0; i < fresh.length; i++) {
        const id = fresh[i]!.id;
        if (ackedFresh[i] === 1 && id !== undefined) this.ackedOfFailed.add(id);
      }
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
      rememberAcked(outcome.acked);
      let waiting = 0;
      for (const [i, err] of outcome.failed) {
        if (err !== STALLED) continue;
        waiting++;
        const id = fresh[i]!.id;
        if (id !== undefined) late.set(i, this.stalled.hold(id));
      }
      throw new Error(`${waiting + heldOpen} of ${records.length} records not acked within ${timeout} ms`);
    }
    const [outcome, heldErrors] = settled;
    for (const id of heldIds) this.stalled.settled(id);
    const error = outcome.failed.values().next().value ?? heldErrors.find((e) => e !== null);
    if (error) {
      rememberAcked(outcome.acked);
      for (let j = 0; j < heldIds.length; j++) if (heldErrors[j] === null) this.ackedOfFailed.add(heldIds[j]!);
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

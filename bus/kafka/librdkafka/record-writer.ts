import type { BusRecord } from '../../../core/pipeline.js';
import { type RefusedRecord, TopicRecordWriter } from '../record-writer.js';
import { refusalOf } from '../refusal.js';
import { AckedMemory, type SendAttempt } from '../resend.js';
import { connectTimeout, connectionConfig } from './config.js';
import { Deliveries, STALLED, type SendOutcome, Unreported, within } from './deliveries.js';
import { type NativeError, type NativeProducer, describeNativeError, loadNative, releaseFailedConnect } from './native.js';
import { StalledRecords } from './stalled.js';

/**
 * The dead-letter topic's writer on librdkafka. Like the bus's producer (producer.ts), it
 * never lets librdkafka give a record up (message.timeout.ms 0) and bounds the wait itself:
 * a write not acked within request_timeout fails, and its records that carry an id stay
 * held, so the collector's retry of the same entries waits for them instead of appending a
 * second copy the broker cannot tell from a new record.
 *
 * A record Kafka refuses for good (bus/kafka/refusal.ts) is not an outage: it is reported in
 * the write's result and the rest of the write goes on. The broker refuses a whole record
 * batch for a record too large or invalid, so the records reported with such an error are
 * produced again one at a time, each waiting for its report: those refused on their own are
 * reported, the others are acked. A record larger than librdkafka's own message.max.bytes is
 * refused by produce() before it is sent, that record alone.
 *
 * Writes run concurrently on the one producer, and librdkafka batches whatever is queued for
 * a partition: a record "alone" beside another write's records would be refused again for
 * their culprit, and blamed. So a write produces records alone in an alone phase: one phase at
 * a time, it starts once every record handed over before it was reported (librdkafka is done
 * with a record once it reported it, retries included), and until it ends the other writes
 * hand nothing over (they wait at send()'s gate, having handed nothing over, so the phase does
 * not wait for them). A retry of librdkafka's own would not take the alone record in: this
 * idempotent producer rebuilds a batch it retries with exactly the records of its first send
 * (rdkafka_msgset_writer.c, "Reconstructed MessageSet"); a record queued and not sent yet would.
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
  private readonly unreported = new Unreported();
  /** Ends with the last alone phase started or waiting to start; undefined when none is. */
  private alonePhases: Promise<void> | undefined;
  /** Bumped when the producer is discarded: its reports after that are ignored. */
  private generation = 0;

  protected async send(records: readonly BusRecord[]): Promise<readonly RefusedRecord[]> {
    const producer = await this.connected();
    // The gate: nothing from here to produce() awaits, so no alone phase starts in between.
    while (this.alonePhases !== undefined) await this.alonePhases;
    const attempt = this.acked.begin(records);
    if (attempt.skipped > 0)
      this.setup.logger.info(
        { records: records.length, skipped: attempt.skipped },
        'not writing again the dead-letter records Kafka acked before the last write failed',
      );
    try {
      const refused = await this.sendAttempt(producer, attempt, records.length);
      this.acked.succeeded(attempt);
      return refused;
    } catch (err) {
      // A failure sendAttempt did not report settled nothing; what it skipped comes back.
      this.acked.failed(attempt, () => false);
      throw err;
    }
  }

  private async sendAttempt(producer: NativeProducer, attempt: SendAttempt<BusRecord>, total: number): Promise<RefusedRecord[]> {
    const { items } = attempt;
    const fresh: BusRecord[] = [];
    /** Where each fresh record is in `items`. */
    const freshAt: number[] = [];
    const held: Promise<NativeError | null>[] = [];
    /** Where each held record is in `items`. */
    const heldAt: number[] = [];
    /** Each held record's report once it came (null: acked), for a write that gives up waiting. */
    const heldReports: (NativeError | null | undefined)[] = [];
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
      const k = heldAt.push(i) - 1;
      heldReports.push(undefined);
      held.push(
        report.then((err) => {
          heldOpen--;
          heldReports[k] = err;
          return err;
        }),
      );
    }
    if (held.length > 0)
      this.setup.logger.info(
        { records: total, queued: held.length },
        'waiting for the dead-letter records librdkafka still holds from a write given up on, not producing them again',
      );
    /** 1 for each record of `items` Kafka acked. */
    const acked = new Uint8Array(items.length);
    const sending = this.produce(producer, fresh);
    const timeout = this.setup.options.producer.request_timeout;
    const settled = await within(timeout, Promise.all([sending.outcome, Promise.all(held)]));
    if (!settled) {
      // The held records stay held (not settled), reported or not: the next write of their
      // entries learns their outcome from there, however late their reports come.
      const outcome = this.giveUp(sending, fresh);
      for (let j = 0; j < fresh.length; j++) if (outcome.acked[j] === 1) acked[freshAt[j]!] = 1;
      // A held record acked meanwhile is remembered as acked and no longer held (claim may
      // have let go of it already): the retry skips it. One still unreported stays held.
      for (let k = 0; k < heldAt.length; k++) {
        if (heldReports[k] !== null) continue;
        const i = heldAt[k]!;
        acked[i] = 1;
        this.stalled.settled(items[i]!.id!);
      }
      this.acked.failed(attempt, (i) => acked[i] === 1);
      let waiting = 0;
      for (const err of outcome.failed.values()) if (err === STALLED) waiting++;
      throw new Error(`${waiting + heldOpen} of ${total} records not acked within ${timeout} ms`);
    }
    const [outcome, heldErrors] = settled;
    for (const i of heldAt) this.stalled.settled(items[i]!.id!);
    /** Why each record of `items` failed, and whether librdkafka batched it (a refusal shared with its batch). */
    const failed = new Map<number, { err: NativeError; batched: boolean }>();
    for (let j = 0; j < fresh.length; j++) {
      const err = outcome.failed.get(j);
      if (err) failed.set(freshAt[j]!, { err, batched: sending.handedOver[j] === 1 });
      else acked[freshAt[j]!] = 1;
    }
    for (let j = 0; j < heldAt.length; j++) {
      const err = heldErrors[j]!;
      if (err) failed.set(heldAt[j]!, { err, batched: true });
      else acked[heldAt[j]!] = 1;
    }
    const refused: RefusedRecord[] = [];
    const alone: number[] = [];
    let outage: NativeError | undefined;
    for (const [i, { err, batched }] of [...failed].sort(([a], [b]) => a - b)) {
      const refusal = refusalOf(err);
      if (!refusal) outage ??= err;
      // Refused with its batch: alone, it tells whose fault it was.
      else if (refusal.sharedWithBatch && batched) alone.push(i);
      else refused.push({ record: items[i]!, refusal, detail: describeNativeError(err) });
    }
    let stalledAlone = 0;
    /** Records handed over before this write's alone phase, still not reported when it gave up waiting for them. */
    let othersQueued = 0;
    // During an outage they wait for the retry of the whole write, like the records not acked.
    if (!outage && alone.length > 0) {
      this.setup.logger.warn(
        { records: alone.length, err: describeNativeError(failed.get(alone[0]!)!.err) },
        'kafka refused a dead-letter record batch for good; producing its records one by one to find the ones it refuses',
      );
      const end = await this.startAlone();
      try {
        // The writes at the gate have handed nothing over.
        othersQueued = await this.unreported.settled(timeout);
        for (const i of alone) {
          if (outage || othersQueued > 0) break;
          const again = await this.produceAlone(producer, items[i]!);
          const refusal = again && refusalOf(again);
          if (!again) acked[i] = 1;
          else if (refusal) refused.push({ record: items[i]!, refusal, detail: describeNativeError(again) });
          else {
            outage ??= again;
            if (again === STALLED) stalledAlone++;
          }
        }
      } finally {
        end();
      }
    }
    if (outage || othersQueued > 0) {
      this.acked.failed(attempt, (i) => acked[i] === 1);
      if (outage?.isFatal) await this.discard();
      if (othersQueued > 0)
        throw new Error(
          `${othersQueued} records of other writes not acked within ${timeout} ms; ${alone.length} of ${total} records refused with their batch not produced alone yet`,
        );
      if (outage === STALLED) throw new Error(`${stalledAlone} of ${total} records not acked within ${timeout} ms`);
      throw outage;
    }
    return refused;
  }

  /**
   * Starts an alone phase once those started before it ended; until the returned function is
   * called, send()'s gate holds every other write before produce().
   */
  private async startAlone(): Promise<() => void> {
    const before = this.alonePhases;
    let end = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    this.alonePhases = ended;
    await before;
    return () => {
      if (this.alonePhases === ended) this.alonePhases = undefined;
      end();
    };
  }

  /**
   * Hands `records` to librdkafka. A record produce() refuses for good (larger than the
   * client takes) fails alone and was not batched (`handedOver` 0); any other error of
   * produce() fails the records from there on, never handed over.
   */
  private produce(producer: NativeProducer, records: readonly BusRecord[]): Sending {
    const sending = this.deliveries.start(records.length);
    const handedOver = new Uint8Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const headers = r.headers ? Object.entries(r.headers).map(([k, v]) => ({ [k]: v })) : undefined;
      try {
        producer.produce(this.topic, null, Buffer.from(r.value), r.key, null, sending.base + i, headers);
        handedOver[i] = 1;
        this.unreported.handedOver();
      } catch (err) {
        if (refusalOf(err)) {
          sending.failOne(i, err as NativeError);
          continue;
        }
        sending.failFrom(i, err as NativeError);
        break;
      }
    }
    return { ...sending, handedOver };
  }

  /**
   * The outcome so far of a send that waited request_timeout in vain: its records not
   * reported yet stay queued in librdkafka, held (by id) for when their entries come back.
   */
  private giveUp(sending: Sending, records: readonly BusRecord[]): SendOutcome {
    const late = new Map<number, (err: NativeError | null) => void>();
    const outcome = sending.giveUp((i, err) => late.get(i)?.(err));
    for (const [i, err] of outcome.failed) {
      const id = records[i]!.id;
      if (err === STALLED && id !== undefined) late.set(i, this.stalled.hold(id));
    }
    return outcome;
  }

  /** Produces one record refused with its batch again, on its own: its error (null: acked; STALLED: not reported in time). */
  private async produceAlone(producer: NativeProducer, record: BusRecord): Promise<NativeError | null> {
    const sending = this.produce(producer, [record]);
    const outcome = (await within(this.setup.options.producer.request_timeout, sending.outcome)) ?? this.giveUp(sending, [record]);
    return outcome.failed.get(0) ?? null;
  }

  protected describe(err: unknown): string {
    return describeNativeError(err);
  }

  async close(): Promise<void> {
    await this.discard();
  }

  /**
   * Lets the producer go: on close, and after a fatal error (an idempotent producer that
   * lost its sequence), after which librdkafka refuses every produce() and a new producer is
   * the only way on. What it still held is never reported: its writes fail, its held records
   * are produced again, and its count of queued records is no alone phase's to wait for.
   */
  private async discard(): Promise<void> {
    const pending = this.producer;
    this.producer = undefined;
    this.generation++;
    const producer = await pending?.catch(() => undefined);
    if (producer) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    const closed = Object.assign(new Error('kafka dead-letter producer closed'), { code: -1 });
    this.deliveries.abandon(closed);
    this.stalled.clear(closed);
    this.unreported.clear();
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
      const generation = this.generation;
      producer.on('delivery-report', (err, report) => {
        // A discarded producer's late reports are no longer anyone's.
        if (generation !== this.generation) return;
        this.deliveries.report(err, report);
        this.unreported.reported();
      });
      producer.on('event.error', (err) =>
        this.setup.logger.debug({ err: describeNativeError(err) }, 'librdkafka dead-letter producer error'),
      );
      producer.on('event.log', (log) =>
        this.setup.logger.debug({ librdkafka: log.message, severity: log.severity }, 'librdkafka dead-letter producer log'),
      );
      producer.connect({ timeout: connectTimeout(this.setup.options) }, (err) => {
        if (err) {
          // The binding has disconnected it already, and kept it from being collected.
          releaseFailedConnect(producer);
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

/** A send under way, and which of its records were handed to librdkafka (1) rather than refused by produce(). */
type Sending = ReturnType<Deliveries['start']> & { handedOver: Uint8Array };

import type { ICustomPartitioner, Message, Producer } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { BusRecord } from '../../../core/pipeline.js';
import { type RefusedRecord, TopicRecordWriter } from '../record-writer.js';
import { refusalOf } from '../refusal.js';
import { AckedMemory } from '../resend.js';
import { createKafka, describeError } from './config.js';

const { Partitioners } = kafkajs;

/**
 * The dead-letter topic's writer on kafkajs. kafkajs rejects a send when any of its
 * partitions failed, without saying which ones the brokers appended, and the collector then
 * writes every entry again. So a write goes out as one send per partition, one after the
 * other: records of one key share a partition, and the keyless records of a write are placed
 * together (perWritePartitioner). When a send fails, the records of the sends before it are
 * known to be acked and are not appended again by the collector's retry.
 *
 * A send Kafka refuses for good (bus/kafka/refusal.ts) is not an outage. The broker refuses
 * a partition's whole record batch for one record too large or invalid, and kafkajs does not
 * say which: a send of one record refused is that record's refusal, a larger one is sent
 * again one record per send, and those refused alone are reported (the broker appended none
 * of a refused send, its one partition, so none is sent twice). A refusal about the topic
 * (not authorized) refuses every record of the send. kafkajs knows no size limit of its own
 * (the topic's is the broker's to know), so only the broker's answer decides.
 */
export class KafkajsRecordWriter extends TopicRecordWriter {
  private producer: Producer | undefined;
  /** Records Kafka acked in a write that failed all the same: skipped when the collector writes them again. */
  private readonly acked = new AckedMemory<BusRecord>((r) => r.id, 'failed-only');
  /** Where the next write's keyless records go: starting anywhere, as kafkajs's own round robin does. */
  private keylessAt = Math.floor(Math.random() * KEYLESS_CYCLE);

  protected async send(records: readonly BusRecord[]): Promise<readonly RefusedRecord[]> {
    if (!this.producer) {
      this.producer = createKafka(this.setup, '-dead-letter').producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
        retry: { retries: 3 },
        createPartitioner: perWritePartitioner,
      });
      await this.producer.connect();
    }
    const producer = this.producer;
    const attempt = this.acked.begin(records);
    if (attempt.skipped > 0)
      this.setup.logger.info(
        { records: records.length, skipped: attempt.skipped },
        'not writing again the dead-letter records Kafka acked before the last write failed',
      );
    const { items } = attempt;
    const stick = this.keylessAt;
    this.keylessAt = (stick + 1) % KEYLESS_CYCLE;
    const sent: Sent = { acked: new Uint8Array(items.length), refused: [] };
    try {
      for (const group of byPartition(items, this.setup.options.producer.batch.max_bytes))
        await this.sendGroup(producer, items, group, stick, sent);
    } catch (err) {
      // The refused ones are not settled: written again, they are refused again and reported then.
      this.acked.failed(attempt, (i) => sent.acked[i] === 1);
      throw err;
    }
    this.acked.succeeded(attempt);
    return sent.refused;
  }

  /** Sends the records of one partition (`group`, indexes in `items`); a refusal for good is narrowed down to its records. */
  private async sendGroup(
    producer: Producer,
    items: readonly BusRecord[],
    group: readonly number[],
    stick: number,
    sent: Sent,
  ): Promise<void> {
    try {
      await producer.send({ topic: this.topic, acks: -1, messages: group.map((i) => messageOf(items[i]!, stick)) });
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal) throw err;
      if (group.length === 1 || !refusal.sharedWithBatch) {
        for (const i of group) sent.refused.push({ record: items[i]!, refusal, detail: describeError(err) });
        return;
      }
      this.setup.logger.warn(
        { records: group.length, err: describeError(err) },
        'kafka refused a dead-letter send for good; sending its records one by one to find the ones it refuses',
      );
      for (const i of group) await this.sendGroup(producer, items, [i], stick, sent);
      return;
    }
    for (const i of group) sent.acked[i] = 1;
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

/** What one write settled so far. */
interface Sent {
  /** 1 for each record (index in the attempt's items) Kafka acked. */
  acked: Uint8Array;
  refused: RefusedRecord[];
}

/** Kept below 2^31 so that it stays a small integer however long the writer lives. */
const KEYLESS_CYCLE = 0x7fffffff;

/** A record and, when it has no key, its write's pick among the partitions (kafkajs sends no extra field). */
type StuckMessage = Message & { stick?: number };

function messageOf(r: BusRecord, stick: number): StuckMessage {
  const message: StuckMessage = { key: r.key, value: r.value, headers: r.headers };
  if (r.key === null) message.stick = stick;
  return message;
}

/**
 * The indexes of `records` by the partition they go to, in order of first appearance: one
 * group per key (the same bytes hash to the same partition) and one for the keyless ones;
 * a group over `maxBytes` is cut into sends of at most that (a larger record alone). kafkajs
 * sends a partition's records as one record batch, and the broker refuses a batch over the
 * topic's max.message.bytes for good: a dead-letter write of many entries of one service
 * (a route that takes none of a whole fetch) would be refused at every retry.
 */
function byPartition(records: readonly BusRecord[], maxBytes: number): number[][] {
  const groups = new Map<string | null, number[][]>();
  const filled = new Map<number[], number>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const key = r.key === null ? null : (typeof r.key === 'string' ? Buffer.from(r.key) : r.key).toString('latin1');
    const size = recordBytes(r);
    let sends = groups.get(key);
    if (!sends) groups.set(key, (sends = []));
    let last = sends.at(-1);
    if (!last || (last.length > 0 && filled.get(last)! + size > maxBytes)) sends.push((last = []));
    last.push(i);
    filled.set(last, (filled.get(last) ?? 0) + size);
  }
  return [...groups.values()].flat();
}

/** About what a record takes in a record batch: key, value, headers and their framing. */
function recordBytes(r: BusRecord): number {
  let bytes = Buffer.byteLength(r.value) + (r.key === null ? 0 : typeof r.key === 'string' ? Buffer.byteLength(r.key) : r.key.length) + 24;
  if (r.headers) for (const [k, v] of Object.entries(r.headers)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 8;
  return bytes;
}

/**
 * kafkajs's default partitioner, except that the keyless records of one write share a
 * partition (`stick`, one per write, round robin over the writes) instead of taking one each
 * in turn, as the Java client's sticky partitioner keeps a batch's keyless records together.
 * So each send of the writer covers one partition, and its outcome is that of each of its
 * records.
 */
export const perWritePartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  return (args) => {
    const { stick } = args.message as StuckMessage;
    if (stick === undefined) return partitioner(args);
    const available = args.partitionMetadata.filter((p) => p.leader >= 0);
    const from = available.length > 0 ? available : args.partitionMetadata;
    return from[stick % from.length]!.partitionId;
  };
};

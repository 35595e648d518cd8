import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BusRecord } from '../../../core/pipeline.js';
import { captureLogger } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import { FakeNativeProducer } from './fake-native.js';
import type { NativeError } from './native.js';

// The dead-letter writer's records Kafka refuses for good, on a fake binding: what produce()
// throws and what the delivery reports say is the test's, as librdkafka's own size check and
// a broker that refuses a whole record batch for one record would.

const codeErr = (code: number, message: string): NativeError => Object.assign(new Error(message), { code, isFatal: false });
const tooLarge = () => codeErr(10, 'Broker: Message size too large');

/** Every produce() call, by value. */
const produced: string[] = [];
/** The reports the broker has not given yet, by value. */
const stalled = new Map<string, (err: NativeError | null) => void>();
/** What produce() throws for a value, as librdkafka does for one over its message.max.bytes. */
let clientRefuses: (value: string) => NativeError | undefined = () => undefined;
/**
 * The errors of the records handed over in one tick (one record batch), by value (null: acked).
 * By default the broker of a topic whose max.message.bytes is 100: a larger record fails its whole batch.
 */
let broker: (values: string[]) => (NativeError | null | 'stalled')[] = (values) =>
  values.map(() => (values.some((v) => v.length > 100) ? tooLarge() : null));

/** Producers built so far. */
let producers = 0;

class FakeProducer extends FakeNativeProducer {
  private batch: { value: string; opaque: number }[] = [];
  /** A fatal error reported: librdkafka refuses every produce() after it. */
  private fatal: NativeError | undefined;

  constructor() {
    super();
    producers++;
  }

  produce(topic: string, _partition: number | null, value: Buffer, _key: unknown, _ts: unknown, opaque: number): void {
    const text = value.toString('utf8');
    produced.push(text);
    if (this.fatal) throw this.fatal;
    const refused = clientRefuses(text);
    if (refused) throw refused;
    if (this.batch.length === 0)
      setImmediate(() => {
        const batch = this.batch;
        this.batch = [];
        const errors = broker(batch.map((r) => r.value));
        for (const [i, r] of batch.entries()) {
          const report = (err: NativeError | null) => this.reportTo!(err, { topic, partition: 0, offset: i, opaque: r.opaque });
          const err = errors[i]!;
          if (err !== null && err !== 'stalled' && err.isFatal) this.fatal = err;
          // A broker that does not answer: the report comes when the test says.
          if (err === 'stalled') stalled.set(r.value, report);
          else report(err);
        }
      });
    this.batch.push({ value: text, opaque });
  }
}

vi.mock('./native.js', async (original) => ({
  ...(await original<typeof import('./native.js')>()),
  loadNative: () => ({ Producer: FakeProducer }),
}));

const { LibrdkafkaRecordWriter } = await import('./record-writer.js');

function setup(logger = captureLogger().logger): ClientSetup {
  const options = kafkaBusOptions.parse({ client: 'librdkafka', topic: 'logs', producer: { request_timeout: '1s' } });
  return { options, tls: undefined, logger, component: 'bus' };
}

const PRODUCING_ALONE = 'kafka refused a dead-letter record batch for good; producing its records one by one to find the ones it refuses';
const record = (value: string, id?: string): BusRecord => (id === undefined ? { key: null, value } : { key: null, value, id });
const big = 'x'.repeat(200);
const short = (v: string) => (v === big ? 'big' : v);

beforeEach(() => {
  produced.length = 0;
  producers = 0;
  stalled.clear();
  clientRefuses = () => undefined;
  broker = (values) => values.map(() => (values.some((v) => v.length > 100) ? tooLarge() : null));
});

describe('librdkafka dead-letter writer: records Kafka refuses for good', () => {
  it('produces the records of a batch the broker refused again one by one: only those refused alone are reported', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    const result = await writer.write([record('a'), record(big), record('b')]);
    expect(result).toEqual({
      refused: [
        {
          index: 1,
          error: 'MESSAGE_TOO_LARGE',
          reason: 'MESSAGE_TOO_LARGE: kafka refused the record for good (Broker: Message size too large (code 10))',
        },
      ],
    });
    expect(produced.map(short)).toEqual(['a', 'big', 'b', 'a', 'big', 'b']);
    await writer.close();
  });

  it('reports a record produce() refuses (larger than librdkafka takes) at once, and produces the ones after it', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    clientRefuses = (v) => (v.length > 100 ? codeErr(10, 'Local: Message size too large') : undefined);
    const result = await writer.write([record('a'), record(big), record('b')]);
    expect(result.refused.map((r) => [r.index, r.reason])).toEqual([
      [1, 'MESSAGE_TOO_LARGE: kafka refused the record for good (Local: Message size too large (code 10))'],
    ]);
    expect(produced.map(short)).toEqual(['a', 'big', 'b']);
    await writer.close();
  });

  it('rejects a write with an outage, and its retry sends again what was refused, not what was acked', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    const records = [record('a', 'dl-1'), record(big, 'dl-2'), record('c', 'dl-3')];
    broker = (values) =>
      values.map((v) => (v === 'c' ? codeErr(19, 'Broker: Not enough in-sync replicas') : v === big ? tooLarge() : null));
    await expect(writer.write(records)).rejects.toThrow('topic dl: Broker: Not enough in-sync replicas (code 19)');
    // During an outage the records refused with their batch are not tried alone: the retry does it.
    expect(produced.map(short)).toEqual(['a', 'big', 'c']);
    produced.length = 0;
    broker = (values) => values.map(() => (values.some((v) => v.length > 100) ? tooLarge() : null));
    const result = await writer.write(records);
    expect(produced.map(short)).toEqual(['big', 'c', 'big', 'c']);
    expect(result.refused.map((r) => r.index)).toEqual([1]);
    await writer.close();
  });

  it('lets a producer go after a fatal error: the retry goes through a new one', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    const records = [record('a', 'dl-1'), record('b', 'dl-2')];
    const fatal = Object.assign(new Error('Local: Fatal error'), { code: -150, isFatal: true });
    broker = (values) => values.map(() => fatal);
    await expect(writer.write(records)).rejects.toThrow('Local: Fatal error');
    broker = (values) => values.map(() => null);
    // librdkafka refuses every produce() of a producer after its fatal error.
    expect(await writer.write(records)).toEqual({ refused: [] });
    expect(producers).toBe(2);
    expect(produced).toEqual(['a', 'b', 'a', 'b']);
    await writer.close();
  });

  it('refuses every record refused for its topic, without producing them one by one', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    broker = (values) => values.map(() => codeErr(29, 'Broker: Topic authorization failed'));
    const result = await writer.write([record('a'), record('b')]);
    expect(result.refused.map((r) => [r.index, r.error])).toEqual([
      [0, 'TOPIC_AUTHORIZATION_FAILED'],
      [1, 'TOPIC_AUTHORIZATION_FAILED'],
    ]);
    expect(produced).toEqual(['a', 'b']);
    await writer.close();
  });

  it('produces records alone one write at a time: an innocent record of a concurrent write is never batched with the culprit', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    // Both writes' records share the first batch, which the broker refuses for the big one.
    const [first, second] = await Promise.all([writer.write([record('a'), record(big)]), writer.write([record('b'), record('c')])]);
    expect(first).toEqual({
      refused: [
        {
          index: 1,
          error: 'MESSAGE_TOO_LARGE',
          reason: 'MESSAGE_TOO_LARGE: kafka refused the record for good (Broker: Message size too large (code 10))',
        },
      ],
    });
    expect(second).toEqual({ refused: [] });
    expect(produced.map(short)).toEqual(['a', 'big', 'b', 'c', 'a', 'big', 'b', 'c']);
    await writer.close();
  });

  it('holds a write started while records are produced alone until they are reported', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    let later: Promise<unknown> | undefined;
    broker = (values) => {
      // The first record produced alone: a write comes in while the alone phase is on.
      if (values.length === 1 && values[0] === 'a') later = writer.write([record('c')]);
      return values.map(() => (values.some((v) => v.length > 100) ? tooLarge() : null));
    };
    const result = await writer.write([record('a'), record(big)]);
    expect(result.refused.map((r) => r.index)).toEqual([1]);
    expect(await later).toEqual({ refused: [] });
    expect(produced.map(short)).toEqual(['a', 'big', 'a', 'big', 'c']);
    await writer.close();
  });

  it('produces records alone only once the records other writes handed over are reported', async () => {
    const { logger, lines } = captureLogger();
    const writer = new LibrdkafkaRecordWriter(setup(logger), 'dl');
    broker = (values) => values.map((v) => (v === 'd' ? 'stalled' : values.some((w) => w.length > 100) ? tooLarge() : null));
    const waiting = writer.write([record('d')]);
    await vi.waitFor(() => expect(stalled.has('d')).toBe(true));
    const alone = writer.write([record('a'), record(big)]);
    // Logged as the alone phase begins: nothing is produced alone while d is not reported.
    await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain(PRODUCING_ALONE));
    expect(produced.map(short)).toEqual(['d', 'a', 'big']);
    stalled.get('d')!(null);
    expect(await waiting).toEqual({ refused: [] });
    expect((await alone).refused.map((r) => r.index)).toEqual([1]);
    expect(produced.map(short)).toEqual(['d', 'a', 'big', 'a', 'big']);
    await writer.close();
  });

  it('fails a write whose alone phase waited request_timeout in vain for the records handed over before it', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    broker = (values) => values.map((v) => (v === 'd' ? 'stalled' : values.some((w) => w.length > 100) ? tooLarge() : null));
    const waiting = expect(writer.write([record('d', 'dl-d')])).rejects.toThrow('topic dl: 1 of 1 records not acked within 1000 ms');
    await vi.waitFor(() => expect(stalled.has('d')).toBe(true));
    const records = [record('a', 'dl-a'), record(big, 'dl-big')];
    await expect(writer.write(records)).rejects.toThrow(
      'topic dl: 1 records of other writes not acked within 1000 ms; 2 of 2 records refused with their batch not produced alone yet',
    );
    await waiting;
    expect(produced.map(short)).toEqual(['d', 'a', 'big']);
    // Reported, it no longer holds the retry's alone phase.
    stalled.get('d')!(null);
    expect((await writer.write(records)).refused.map((r) => r.index)).toEqual([1]);
    expect(produced.map(short)).toEqual(['d', 'a', 'big', 'a', 'big', 'a', 'big']);
    await writer.close();
  });

  it('does not produce again a held record acked while a later write of it gave up waiting for another', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'dl');
    const records = [record('a', 'dl-1'), record('b', 'dl-2')];
    broker = (values) => values.map(() => 'stalled');
    await expect(writer.write(records)).rejects.toThrow('2 of 2 records not acked within 1000 ms');
    // The broker acks a's record; b's partition stays stuck through the next write too.
    stalled.get('a')!(null);
    await expect(writer.write(records)).rejects.toThrow('1 of 2 records not acked within 1000 ms');
    stalled.get('b')!(null);
    expect(await writer.write(records)).toEqual({ refused: [] });
    expect(produced).toEqual(['a', 'b']);
    await writer.close();
  });
});

import kafkajs from 'kafkajs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BusRecord } from '../../../core/pipeline.js';
import { captureLogger } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';

// kafkajs's producer faked: which sends fail is the test's, as a broker that answers for some
// partitions and not others.

interface Sent {
  topic: string;
  values: string[];
}

const sent: Sent[] = [];
/** Says whether a send of these values fails. */
let failing: (values: string[]) => boolean = () => false;
/** The error a send of these values is refused with for good, if it is. */
let refusing: (values: string[]) => Error | undefined = () => undefined;

/** What kafkajs throws for a broker error code (as its produce response parser does). */
const protocolError = (type: string, code: number) =>
  // kafkajs builds it from its error table's entry ({type, code, retriable, message}); its typings say Error.
  new kafkajs.KafkaJSProtocolError({ type, code, retriable: false, message: `${type} from the broker` } as unknown as Error);

/** The broker of a topic whose max.message.bytes is `limit`: it refuses a whole record batch holding a larger record. */
const tooLargeOver = (limit: number) => (values: string[]) =>
  values.some((v) => v.length > limit) ? protocolError('MESSAGE_TOO_LARGE', 10) : undefined;
const producerConfigs: unknown[] = [];

class FakeProducer {
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send({ topic, messages }: { topic: string; messages: { value: string }[] }): Promise<unknown[]> {
    const values = messages.map((m) => m.value);
    sent.push({ topic, values });
    if (failing(values)) throw new Error('NOT_ENOUGH_REPLICAS');
    const refusal = refusing(values);
    if (refusal) throw refusal;
    return [];
  }
}

vi.mock('./config.js', async (original) => ({
  ...(await original<typeof import('./config.js')>()),
  createKafka: () => ({
    producer: (config: unknown) => {
      producerConfigs.push(config);
      return new FakeProducer();
    },
  }),
}));

const { KafkajsRecordWriter, perWritePartitioner } = await import('./record-writer.js');

function setup(): ClientSetup {
  const options = kafkaBusOptions.parse({ client: 'kafkajs', topic: 'logs' });
  return { options, tls: undefined, logger: captureLogger().logger, component: 'bus' };
}

const record = (value: string, key: string | Buffer | null, id?: string): BusRecord =>
  id === undefined ? { key, value } : { key, value, id };

beforeEach(() => {
  sent.length = 0;
  producerConfigs.length = 0;
  failing = () => false;
  refusing = () => undefined;
});

describe('kafkajs dead-letter writer', () => {
  it('sends a write one partition at a time: one send per key, one for the keyless records', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'logs-dead-letter');
    await writer.write([
      record('a1', 's/a'),
      record('n1', null),
      record('b1', Buffer.from('s/b')),
      record('a2', 's/a'),
      record('n2', null),
    ]);
    expect(sent.map((s) => s.values)).toEqual([['a1', 'a2'], ['n1', 'n2'], ['b1']]);
    expect(sent.every((s) => s.topic === 'logs-dead-letter')).toBe(true);
    expect(producerConfigs).toEqual([expect.objectContaining({ createPartitioner: perWritePartitioner })]);
    await writer.close();
  });

  it("cuts a partition's records into sends of at most producer.batch.max_bytes; a larger record goes alone", async () => {
    const options = kafkaBusOptions.parse({ client: 'kafkajs', topic: 'logs', producer: { batch: { max_bytes: '1KiB' } } });
    const writer = new KafkajsRecordWriter({ options, tls: undefined, logger: captureLogger().logger, component: 'bus' }, 'dl');
    const v = (c: string, n: number) => c.repeat(n);
    await writer.write([
      record(v('a', 400), 's/a'),
      record(v('b', 400), 's/a'),
      record(v('c', 400), 's/a'),
      record(v('d', 2000), 's/a'),
      record(v('e', 10), 's/a'),
      record(v('x', 10), 's/x'),
    ]);
    expect(sent.map((s) => s.values.map((x) => `${x[0]}${x.length}`))).toEqual([['a400', 'b400'], ['c400'], ['d2000'], ['e10'], ['x10']]);
    await writer.close();
  });

  it('groups a string key with the Buffer of the same bytes: they hash to one partition', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'logs-dead-letter');
    await writer.write([record('a1', 's/a'), record('a2', Buffer.from('s/a'))]);
    expect(sent.map((s) => s.values)).toEqual([['a1', 'a2']]);
    await writer.close();
  });

  it('does not append again the entries Kafka acked in a write that failed for others', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'logs-dead-letter');
    const records = [record('a1', 's/a', 'dl-1'), record('b1', 's/b', 'dl-2'), record('a2', 's/a', 'dl-3'), record('n1', null, 'dl-4')];
    failing = (values) => values.includes('b1');
    await expect(writer.write(records)).rejects.toThrow(/topic logs-dead-letter: .*NOT_ENOUGH_REPLICAS/);
    // The sends after the failed one are not tried: the retry sends them.
    expect(sent.map((s) => s.values)).toEqual([['a1', 'a2'], ['b1']]);
    failing = () => false;
    sent.length = 0;
    await writer.write(records);
    expect(sent.map((s) => s.values)).toEqual([['b1'], ['n1']]);
    // Once written, an entry is forgotten: written again, it is sent again.
    sent.length = 0;
    await writer.write(records);
    expect(sent.flatMap((s) => s.values)).toEqual(['a1', 'a2', 'b1', 'n1']);
    await writer.close();
  });

  it('appends again an entry without an id, acked or not', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'logs-dead-letter');
    const records = [record('a1', 's/a', 'dl-1'), record('a2', 's/a'), record('b1', 's/b', 'dl-2')];
    failing = (values) => values.includes('b1');
    await expect(writer.write(records)).rejects.toThrow(/NOT_ENOUGH_REPLICAS/);
    failing = () => false;
    sent.length = 0;
    await writer.write(records);
    expect(sent.map((s) => s.values)).toEqual([['a2'], ['b1']]);
    await writer.close();
  });

  it('still skips an acked entry when the retry that skipped it fails too', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'logs-dead-letter');
    const records = [record('a1', 's/a', 'dl-1'), record('b1', 's/b', 'dl-2')];
    failing = (values) => values.includes('b1');
    await expect(writer.write(records)).rejects.toThrow(/NOT_ENOUGH_REPLICAS/);
    await expect(writer.write(records)).rejects.toThrow(/NOT_ENOUGH_REPLICAS/);
    failing = () => false;
    sent.length = 0;
    await writer.write(records);
    expect(sent.map((s) => s.values)).toEqual([['b1']]);
    await writer.close();
  });
});

describe('kafkajs dead-letter writer: records Kafka refuses for good', () => {
  it('reports a record refused in a send of its own, and writes the others', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'dl');
    refusing = tooLargeOver(100);
    const result = await writer.write([record('a1', 's/a'), record('x'.repeat(200), 's/x'), record('b1', 's/b')]);
    expect(result).toEqual({
      refused: [
        {
          index: 1,
          error: 'MESSAGE_TOO_LARGE',
          reason: 'MESSAGE_TOO_LARGE: kafka refused the record for good (MESSAGE_TOO_LARGE from the broker)',
        },
      ],
    });
    expect(sent.map((s) => s.values.map((v) => v.slice(0, 2)))).toEqual([['a1'], ['xx'], ['b1']]);
    await writer.close();
  });

  it('sends the records of a refused send one by one: only those refused alone are reported', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'dl');
    refusing = tooLargeOver(100);
    const big = 'x'.repeat(200);
    const result = await writer.write([record('n1', null), record(big, null), record('a1', 's/a'), record('n2', null)]);
    expect(result.refused.map((r) => [r.index, r.error])).toEqual([[1, 'MESSAGE_TOO_LARGE']]);
    const short = (v: string) => (v === big ? 'big' : v);
    expect(sent.map((s) => s.values.map(short))).toEqual([['n1', 'big', 'n2'], ['n1'], ['big'], ['n2'], ['a1']]);
    await writer.close();
  });

  it('refuses every record of a send refused for its topic, without sending them one by one', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'dl');
    refusing = () => protocolError('TOPIC_AUTHORIZATION_FAILED', 29);
    const result = await writer.write([record('n1', null), record('n2', null)]);
    expect(result.refused.map((r) => [r.index, r.error])).toEqual([
      [0, 'TOPIC_AUTHORIZATION_FAILED'],
      [1, 'TOPIC_AUTHORIZATION_FAILED'],
    ]);
    expect(sent.map((s) => s.values)).toEqual([['n1', 'n2']]);
    await writer.close();
  });

  it('reports the place of a refused record in the write also when records acked before a failure are skipped', async () => {
    const writer = new KafkajsRecordWriter(setup(), 'dl');
    const big = 'x'.repeat(200);
    const records = [record('a1', 's/a', 'dl-1'), record(big, 's/c', 'dl-2'), record('b1', 's/b', 'dl-3')];
    failing = (values) => values.includes('b1');
    refusing = tooLargeOver(100);
    // An outage rejects the write; the record refused before it is not settled, and is sent again.
    await expect(writer.write(records)).rejects.toThrow(/topic dl: .*NOT_ENOUGH_REPLICAS/);
    failing = () => false;
    sent.length = 0;
    const result = await writer.write(records);
    expect(sent.map((s) => s.values.map((v) => v.slice(0, 2)))).toEqual([['xx'], ['b1']]);
    expect(result.refused.map((r) => r.index)).toEqual([1]);
    await writer.close();
  });
});

describe('perWritePartitioner', () => {
  const meta = (n: number, down: number[] = []) =>
    Array.from({ length: n }, (_, i) => ({
      partitionId: i,
      leader: down.includes(i) ? -1 : 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));

  it("places keyed records as kafkajs's default partitioner does", () => {
    const ours = perWritePartitioner();
    const theirs = kafkajs.Partitioners.DefaultPartitioner();
    for (let k = 0; k < 100; k++) {
      const args = { topic: 't', partitionMetadata: meta(6), message: { key: `svc/mod-${k}`, value: 'v' } };
      expect(ours(args)).toBe(theirs(args));
    }
  });

  it("puts a write's keyless records on one partition, and spreads the writes over the available ones", () => {
    const ours = perWritePartitioner();
    const place = (stick: number, value: string) =>
      ours({ topic: 't', partitionMetadata: meta(4, [1]), message: { key: null, value, stick } as kafkajs.Message });
    for (let stick = 0; stick < 6; stick++) {
      const first = place(stick, 'x');
      for (let n = 0; n < 5; n++) expect(place(stick, `v${n}`)).toBe(first);
    }
    expect([0, 1, 2, 3, 4, 5].map((stick) => place(stick, 'x'))).toEqual([0, 2, 3, 0, 2, 3]);
  });
});

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
const producerConfigs: unknown[] = [];

class FakeProducer {
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send({ topic, messages }: { topic: string; messages: { value: string }[] }): Promise<unknown[]> {
    const values = messages.map((m) => m.value);
    sent.push({ topic, values });
    if (failing(values)) throw new Error('NOT_ENOUGH_REPLICAS');
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

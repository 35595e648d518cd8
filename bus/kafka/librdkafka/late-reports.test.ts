import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogEvent } from '../../../core/event.js';
import { captureLogger, makeEvent } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import { FakeNativeProducer } from './fake-native.js';
import type { DeliveryReport, NativeError } from './native.js';

// The delivery reports of records that outlive the sends waiting for them: a fake binding, so
// the order of reports and timeouts is the test's (a frozen broker gives no such control;
// test/integration/bus-producer.int.test.ts freezes a real one).

interface Produced {
  topic: string;
  value: string;
  opaque: number;
}

const produced: Produced[] = [];
/** The producer made last: the one whose records the test reports. */
let latest: FakeProducer | undefined;

class FakeProducer extends FakeNativeProducer {
  constructor() {
    super();
    latest = this;
  }
  deliver(err: NativeError | null, report: DeliveryReport): void {
    this.reportTo!(err, report);
  }
  produce(topic: string, _partition: number | null, value: Uint8Array, _key: unknown, _ts: unknown, opaque: number): void {
    produced.push({ topic, value: Buffer.from(value).toString('utf8'), opaque });
  }
}

vi.mock('./native.js', async (original) => ({
  ...(await original<typeof import('./native.js')>()),
  loadNative: () => ({ Producer: FakeProducer }),
}));

const { LibrdkafkaProducer } = await import('./producer.js');
const { LibrdkafkaRecordWriter } = await import('./record-writer.js');

const codeErr = (code: number): NativeError => Object.assign(new Error(`Broker: error ${code}`), { code });

/** The delivery report of the record produced `n`-th (0-based). */
function report(n: number, err: NativeError | null = null): void {
  const p = produced[n]!;
  latest!.deliver(err, { topic: p.topic, partition: 0, offset: n, opaque: p.opaque });
}

function setup(): ClientSetup {
  const options = kafkaBusOptions.parse({
    client: 'librdkafka',
    topic: 'logs',
    producer: { request_timeout: '100ms', create_topics: false, compression: 'none' },
  });
  return { options, tls: undefined, logger: captureLogger().logger, component: 'bus' };
}

const event = (n: number): LogEvent => makeEvent({ id: `id-${n}`, message: `m${n}`, timestamp: 0 });

beforeEach(() => {
  produced.length = 0;
  latest = undefined;
});

describe('librdkafka records acked after the sends that waited for them gave up', () => {
  it('bus producer: a record acked after its second send gave up is not produced by the third', async () => {
    const producer = new LibrdkafkaProducer(setup(), undefined);
    const events = [event(1), event(2), event(3)];
    await expect(producer.send(events)).rejects.toThrow(/3 of 3 records not acked within 100 ms/);
    // The forwarder's retry: waits for the records still queued, and gives up again.
    await expect(producer.send(events)).rejects.toThrow(/not acked within 100 ms/);
    expect(produced).toHaveLength(3);
    // The broker answers between the retries (during the forwarder's backoff).
    report(0);
    report(1);
    report(2);
    await producer.send(events);
    expect(produced).toHaveLength(3);
    await producer.close();
  });

  it('bus producer: a record that failed after its second send gave up is produced again', async () => {
    const producer = new LibrdkafkaProducer(setup(), undefined);
    const events = [event(1), event(2)];
    await expect(producer.send(events)).rejects.toThrow(/not acked within 100 ms/);
    await expect(producer.send(events)).rejects.toThrow(/not acked within 100 ms/);
    report(0);
    // Kafka says it failed (not appended): only this one is produced again.
    report(1, codeErr(-195));
    const third = producer.send(events);
    await vi.waitFor(() => expect(produced).toHaveLength(3));
    expect(produced[2]!.value).toContain('"id":"id-2"');
    report(2);
    await third;
    await producer.close();
  });

  it('dead-letter writer: an entry acked after its second write gave up is not appended by the third', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'logs-dead-letter');
    const records = [1, 2].map((n) => ({ key: null, value: `entry ${n}`, id: `dl-${n}` }));
    await expect(writer.write(records)).rejects.toThrow(/2 of 2 records not acked within 100 ms/);
    await expect(writer.write(records)).rejects.toThrow(/2 of 2 records not acked within 100 ms/);
    report(0);
    report(1);
    await writer.write(records);
    expect(produced).toHaveLength(2);
    await writer.close();
  });

  it('dead-letter writer: an entry acked by a write that failed for another is not appended again by the retry', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'logs-dead-letter');
    const records = [1, 2, 3].map((n) => ({ key: null, value: `entry ${n}`, id: `dl-${n}` }));
    const first = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(3));
    report(0);
    report(1, codeErr(-195));
    report(2);
    await expect(first).rejects.toThrow(/topic logs-dead-letter/);
    // The collector writes the same entries again: only the one that failed is produced.
    const retry = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(4));
    expect(produced[3]!.value).toBe('entry 2');
    report(3);
    await retry;
    await writer.close();
  });

  it('dead-letter writer: an entry held from a write given up on and acked in a retry that failed for another is not appended by the next', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'logs-dead-letter');
    const records = [1, 2].map((n) => ({ key: null, value: `entry ${n}`, id: `dl-${n}` }));
    await expect(writer.write(records)).rejects.toThrow(/2 of 2 records not acked within 100 ms/);
    const second = writer.write(records);
    // Both are claimed from the held records before their reports come.
    await new Promise(setImmediate);
    report(0);
    report(1, codeErr(-195));
    await expect(second).rejects.toThrow(/topic logs-dead-letter/);
    expect(produced).toHaveLength(2);
    const third = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(3));
    expect(produced[2]!.value).toBe('entry 2');
    report(2);
    await third;
    await writer.close();
  });

  it('dead-letter writer: an entry skipped by a retry that failed is still not appended by the next', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'logs-dead-letter');
    const records = [1, 2].map((n) => ({ key: null, value: `entry ${n}`, id: `dl-${n}` }));
    const first = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(2));
    report(0);
    report(1, codeErr(-195));
    await expect(first).rejects.toThrow(/topic logs-dead-letter/);
    const second = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(3));
    report(2, codeErr(-195));
    await expect(second).rejects.toThrow(/topic logs-dead-letter/);
    const third = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(4));
    expect(produced.slice(2).map((p) => p.value)).toEqual(['entry 2', 'entry 2']);
    report(3);
    await third;
    await writer.close();
  });

  it('dead-letter writer: an entry without an id acked by a write that failed for another is appended again by the retry', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'logs-dead-letter');
    const records = [
      { key: null, value: 'entry 1', id: 'dl-1' },
      { key: null, value: 'entry 2' },
      { key: null, value: 'entry 3', id: 'dl-3' },
    ];
    const first = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(3));
    report(0);
    report(1);
    report(2, codeErr(-195));
    await expect(first).rejects.toThrow(/topic logs-dead-letter/);
    // Nothing tells the retry's copy of entry 2 from a new record: it is appended again.
    const retry = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(5));
    expect(produced.slice(3).map((p) => p.value)).toEqual(['entry 2', 'entry 3']);
    report(3);
    report(4);
    await retry;
    await writer.close();
  });

  it('dead-letter writer: an entry without an id is not held from a write given up on: the retry produces it again', async () => {
    const writer = new LibrdkafkaRecordWriter(setup(), 'logs-dead-letter');
    const records = [
      { key: null, value: 'entry 1', id: 'dl-1' },
      { key: null, value: 'entry 2' },
    ];
    await expect(writer.write(records)).rejects.toThrow(/2 of 2 records not acked within 100 ms/);
    const retry = writer.write(records);
    await vi.waitFor(() => expect(produced).toHaveLength(3));
    expect(produced[2]!.value).toBe('entry 2');
    report(0);
    report(2);
    await retry;
    expect(produced).toHaveLength(3);
    await writer.close();
  });
});

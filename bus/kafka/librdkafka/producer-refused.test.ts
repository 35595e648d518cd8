import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogEvent } from '../../../core/event.js';
import type { RefusedEvent } from '../../../core/pipeline.js';
import { captureLogger, makeEvent } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import { FakeNativeProducer } from './fake-native.js';
import type { NativeError } from './native.js';

// The agent producer's records Kafka refuses for good with their batch, with sends in flight
// together, on a fake binding: the records handed over in one tick are one record batch, and
// what the broker says of it is the test's, as a topic whose max.message.bytes is 100 would.

const codeErr = (code: number, message: string): NativeError => Object.assign(new Error(message), { code, isFatal: false });
const tooLarge = () => codeErr(10, 'Broker: Message size too large');

/** Every produce() call, by event message. */
const produced: string[] = [];
/** The reports the broker has not given yet, by event message. */
const stalled = new Map<string, (err: NativeError | null) => void>();
/** The messages of `p1` are on a partition of their own: their own record batch. */
const partitionOf = (message: string) => (message.startsWith('p1') ? 1 : 0);
/** The errors of one record batch, by message: a larger record fails its whole partition's batch. */
const refusesBig = (messages: string[]) =>
  messages.map((m) => (messages.some((o) => partitionOf(o) === partitionOf(m) && o.length > 100) ? tooLarge() : null));
/** What the broker says of the records handed over in one tick (null: acked; 'stalled': no answer until the test gives it). */
let broker: (messages: string[]) => (NativeError | null | 'stalled')[] = refusesBig;

class FakeProducer extends FakeNativeProducer {
  private batch: { message: string; opaque: number }[] = [];

  produce(topic: string, _partition: number | null, value: Uint8Array, _key: unknown, _ts: unknown, opaque: number): void {
    const { message } = JSON.parse(Buffer.from(value).toString('utf8')) as LogEvent;
    produced.push(message);
    if (this.batch.length === 0)
      setImmediate(() => {
        const batch = this.batch;
        this.batch = [];
        const errors = broker(batch.map((r) => r.message));
        for (const [i, r] of batch.entries()) {
          const report = (err: NativeError | null) => this.reportTo!(err, { topic, partition: 0, offset: i, opaque: r.opaque });
          const err = errors[i]!;
          if (err === 'stalled') stalled.set(r.message, report);
          else report(err);
        }
      });
    this.batch.push({ message, opaque });
  }
}

vi.mock('./native.js', async (original) => ({
  ...(await original<typeof import('./native.js')>()),
  loadNative: () => ({ Producer: FakeProducer }),
}));

const { LibrdkafkaProducer } = await import('./producer.js');

const PRODUCING_ALONE = 'kafka refused a record batch for good; producing its records one by one to find the ones it refuses';
const big = 'x'.repeat(200);
const short = (m: string) => (m.length > 100 ? `${m.slice(0, 4)}…` : m);
const event = (message: string): LogEvent => makeEvent({ id: `id-${message.slice(0, 4)}`, message, timestamp: 0 });
/** Two events too large for the topic, told apart by their first characters. */
const bigA = `A${big}`;
const bigB = `B${big}`;

function producerWithDeadLetter(logger = captureLogger().logger) {
  const options = kafkaBusOptions.parse({
    client: 'librdkafka',
    topic: 'logs',
    producer: { request_timeout: '1s', create_topics: false, compression: 'none' },
  });
  const setup: ClientSetup = { options, tls: undefined, logger, component: 'bus' };
  const deadLettered: string[] = [];
  const producer = new LibrdkafkaProducer(setup, async (events: readonly RefusedEvent[]) => {
    for (const e of events) deadLettered.push(short(e.event.message));
  });
  return { producer, deadLettered };
}

beforeEach(() => {
  produced.length = 0;
  stalled.clear();
  broker = refusesBig;
});

describe('librdkafka agent producer: records refused with their batch, sends in flight together', () => {
  it('produces one send alone at a time: an innocent record of the other send never shares a batch with the culprit', async () => {
    const { producer, deadLettered } = producerWithDeadLetter();
    // Both sends' records share the first batch, which the broker refuses for the big one.
    await Promise.all([producer.send([event(bigA), event('a')]), producer.send([event('b'), event('c')])]);
    expect(deadLettered).toEqual(['Axxx…']);
    expect(produced.map(short)).toEqual(['Axxx…', 'a', 'b', 'c', 'Axxx…', 'a', 'b', 'c']);
    await producer.close();
  });

  it('holds a send started while records are produced alone until they are reported', async () => {
    const { producer, deadLettered } = producerWithDeadLetter();
    // The broker answers for the first record produced alone when the test says.
    broker = (messages) => (messages.length === 1 && messages[0] === 'a' ? ['stalled'] : refusesBig(messages));
    const first = producer.send([event('a'), event(bigA)]);
    await vi.waitFor(() => expect(stalled.has('a')).toBe(true));
    // The forwarder's next send comes in while the alone phase is on: it hands nothing over.
    const later = producer.send([event('c'), event(bigB)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(produced.map(short)).toEqual(['a', 'Axxx…', 'a']);
    stalled.get('a')!(null);
    await first;
    await later;
    expect(deadLettered).toEqual(['Axxx…', 'Bxxx…']);
    // c shares its batch with bigB only, and is acked on its own.
    expect(produced.map(short)).toEqual(['a', 'Axxx…', 'a', 'Axxx…', 'c', 'Bxxx…', 'c', 'Bxxx…']);
    await producer.close();
  });

  it('produces records alone only once the records other sends handed over are reported', async () => {
    const { logger, lines } = captureLogger();
    const { producer, deadLettered } = producerWithDeadLetter(logger);
    let refused = false;
    broker = (messages) => {
      refused ||= messages.includes(bigA);
      return messages.map((m, i) => (m === 'd' ? 'stalled' : refusesBig(messages)[i]!));
    };
    const waiting = producer.send([event('d')]);
    await vi.waitFor(() => expect(stalled.has('d')).toBe(true));
    const alone = producer.send([event('a'), event(bigA)]);
    await vi.waitFor(() => expect(refused).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Nothing is produced alone while d is not reported; the alone phase has begun.
    expect(produced.map(short)).toEqual(['d', 'a', 'Axxx…']);
    expect(lines.map((l) => l.msg)).toContain(PRODUCING_ALONE);
    stalled.get('d')!(null);
    await waiting;
    await alone;
    expect(deadLettered).toEqual(['Axxx…']);
    expect(produced.map(short)).toEqual(['d', 'a', 'Axxx…', 'a', 'Axxx…']);
    await producer.close();
  });

  it('fails a send whose alone phase waited request_timeout in vain, and its retry produces again only what was not acked', async () => {
    const { producer, deadLettered } = producerWithDeadLetter();
    broker = (messages) => messages.map((m, i) => (m === 'd' ? 'stalled' : refusesBig(messages)[i]!));
    const waiting = expect(producer.send([event('d')])).rejects.toThrow('kafka produce failed: 1 of 1 records not acked within 1000 ms');
    await vi.waitFor(() => expect(stalled.has('d')).toBe(true));
    // p1 is on another partition: acked in the first attempt.
    const events = [event('a'), event(bigA), event('p1')];
    await expect(producer.send(events)).rejects.toThrow(
      'kafka produce failed: 1 records of other sends not acked within 1000 ms; 2 of 3 records refused with their batch not produced alone yet',
    );
    await waiting;
    expect(produced.map(short)).toEqual(['d', 'a', 'Axxx…', 'p1']);
    expect(deadLettered).toEqual([]);
    // Reported, it no longer holds the retry's alone phase.
    stalled.get('d')!(null);
    await producer.send(events);
    expect(deadLettered).toEqual(['Axxx…']);
    expect(produced.map(short)).toEqual(['d', 'a', 'Axxx…', 'p1', 'a', 'Axxx…', 'a', 'Axxx…']);
    await producer.close();
  });
});

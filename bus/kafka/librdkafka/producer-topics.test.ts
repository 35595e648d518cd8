import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppendFile } from '../../../core/append-file.js';
import { captureLogger, makeEvent, type TempDir, tempDir } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import { TOPIC_DECISIONS_FILE, TopicNamer } from '../topic-names.js';
import { FakeNativeProducer } from './fake-native.js';
import type { NativeError } from './native.js';

// What a send does before handing its records over (naming them, creating topics) and in
// what order: a fake binding that acks every record, and records what it was asked.

let dir: string;
const produced: string[] = [];
/** Each topic created, with the decisions file as it was then. */
const created: { topic: string; decisions: string }[] = [];
let connects = 0;

const decisions = () => {
  try {
    return readFileSync(join(dir, TOPIC_DECISIONS_FILE), 'utf8');
  } catch {
    return '';
  }
};

class FakeProducer extends FakeNativeProducer {
  override connect(options: unknown, cb: (err: NativeError | null) => void): this {
    connects++;
    return super.connect(options, cb);
  }
  produce(topic: string, _partition: number | null, _value: Uint8Array, _key: unknown, _ts: unknown, opaque: number): void {
    produced.push(topic);
    setImmediate(() => this.reportTo!(null, { topic, partition: 0, offset: produced.length, opaque }));
  }
}

const FakeAdmin = {
  createTopic(spec: { topic: string }, _timeout: number, cb: (err: NativeError | null) => void): void {
    created.push({ topic: spec.topic, decisions: decisions() });
    setImmediate(() => cb(null));
  },
  disconnect(): void {},
};

vi.mock('./native.js', async (original) => ({
  ...(await original<typeof import('./native.js')>()),
  loadNative: () => ({ Producer: FakeProducer, AdminClient: { createFrom: () => FakeAdmin } }),
}));

const { LibrdkafkaProducer } = await import('./producer.js');

function setup(over: Record<string, unknown>, producer: Record<string, unknown>): ClientSetup {
  const options = kafkaBusOptions.parse({
    client: 'librdkafka',
    topic: 'logs.{service}',
    ...over,
    producer: { request_timeout: '1s', compression: 'none', ...producer },
  });
  return { options, tls: undefined, logger: captureLogger().logger, component: 'bus', dataDir: dir };
}

const events = (services: string[]) => services.map((service, i) => makeEvent({ id: `e${i}`, service }));

const line = (admitted: string[], overflowed: string[]) => `${JSON.stringify({ template: 'logs.{service}', admitted, overflowed })}\n`;

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir('librdkafka-topics');
  dir = tmp.dir;
  produced.length = 0;
  created.length = 0;
  connects = 0;
});
afterEach(async () => {
  vi.restoreAllMocks();
  await tmp.cleanup();
});

describe('librdkafka producer: the topics of a send', () => {
  it('names each record once, as it hands it over, when nothing needs the topics before', async () => {
    const naming = vi.spyOn(TopicNamer.prototype, 'name');
    const producer = new LibrdkafkaProducer(setup({ topic_max_distinct: 0 }, { create_topics: false, key: '{service}' }), undefined);
    await producer.open();
    await producer.send(events(['a', 'b', 'a']));
    expect(produced).toEqual(['logs.a', 'logs.b', 'logs.a']);
    expect(naming).toHaveBeenCalledTimes(3);
    await producer.close();
  });

  it('has the topic decisions on disk before it creates a topic they name', async () => {
    const producer = new LibrdkafkaProducer(setup({ topic_max_distinct: 1 }, { create_topics: true, key: '{service}' }), undefined);
    await producer.open();
    await producer.send(events(['a', 'x']));
    expect(created).toEqual([
      { topic: 'logs.a', decisions: line(['logs.a'], ['logs.x']) },
      { topic: 'logs._other', decisions: line(['logs.a'], ['logs.x']) },
    ]);
    expect(produced).toEqual(['logs.a', 'logs._other']);
    await producer.close();
  });

  it('sends, on the same client, when it cannot write the decisions; a later send writes them', async () => {
    const producer = new LibrdkafkaProducer(setup({ topic_max_distinct: 1 }, { create_topics: false, key: '{service}' }), undefined);
    await producer.open();
    const full = vi
      .spyOn(AppendFile.prototype, 'append')
      .mockRejectedValueOnce(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    await producer.send(events(['a', 'x']));
    expect(produced).toEqual(['logs.a', 'logs._other']);
    expect(decisions()).toBe('');
    await producer.send(events(['x', 'y']));
    expect(produced).toEqual(['logs.a', 'logs._other', 'logs._other', 'logs._other']);
    expect(full).toHaveBeenCalledTimes(2);
    expect(decisions()).toBe(line(['logs.a'], ['logs.x', 'logs.y']));
    expect(connects).toBe(1);
    await producer.close();
  });
});

// Kafka -> collector (the built CLI) -> Elasticsearch on the shared broker and node: every
// event produced ends up as exactly one document, across a collector SIGKILLed mid-stream
// and restarted, and across a full replay of the topic by a new consumer group.
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { encodeEvent } from '../../core/wire.js';
import { collectorYaml, type Sluice, waitFor, workspace } from './bus-harness.js';

const brokers = inject('kafkaBrokers');
const url = inject('elasticsearchUrl');
const admin = new Client({ node: url });
const name = `sluice-int-eskafka-${process.pid}-${Date.now()}`;
const index = `${name}-app-2024.07.01`;
const { setup, start } = workspace('sluice-es-kafka-');
const { dir } = setup('es');

afterAll(async () => {
  await admin.indices.delete({ index }).catch(() => undefined);
  await admin.indices.deleteIndexTemplate({ name }).catch(() => undefined);
  await admin.close();
});

function collector(group: string, tag: string): Sluice {
  return start(
    'collector',
    dir,
    tag,
    collectorYaml({
      dataDir: join(dir, 'data'),
      brokers,
      topic: name,
      group,
      sinks: { es: { type: 'elasticsearch', url, index: `${name}-{service}-%Y.%m.%d`, template: { name, replicas: 0 } } },
    }),
  );
}

async function stats(): Promise<{ docs: number; indexed: number }> {
  try {
    await admin.indices.refresh({ index });
    const s = await admin.indices.stats({ index, metric: ['docs', 'indexing'] });
    const p = s._all.primaries!;
    return { docs: p.docs!.count!, indexed: p.indexing!.index_total! };
  } catch {
    return { docs: 0, indexed: 0 };
  }
}

describe('Kafka -> collector -> Elasticsearch', () => {
  it('indexes every record once across a collector crash and a full replay of the topic', async () => {
    const total = 20_000;
    const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin.createTopics({ topics: [{ topic: name, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await kadmin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let b = 0; b < total; b += 2000) {
      const messages = Array.from({ length: 2000 }, (_, k) => {
        const i = b + k;
        const e: LogEvent = {
          id: `kafka-${i}`,
          timestamp: Date.UTC(2024, 6, 1) + i,
          message: `event ${i}`,
          service: 'app',
          module: 'm',
          host: 'h',
          source: { kind: 'file', path: '/log', offset: i },
          fields: {},
        };
        return { key: String(i % 7), value: encodeEvent(e) };
      });
      await producer.send({ topic: name, acks: -1, messages });
    }
    await producer.disconnect();

    // Crash the collector mid-stream: what it had not acked is consumed again after restart.
    const first = collector(`${name}-g1`, 'c1');
    await waitFor(
      'some documents indexed',
      async () => (await stats()).docs >= total / 4,
      120_000,
      () => first.log().slice(-2000),
    );
    await first.kill('SIGKILL');
    const again = collector(`${name}-g1`, 'c2');
    await waitFor(
      `${total} documents`,
      async () => (await stats()).docs >= total,
      120_000,
      () => again.log().slice(-2000),
    );
    expect(await again.stop()).toBe(0);
    const afterCrash = await stats();
    expect(afterCrash.docs).toBe(total);

    // A new group reads the whole topic again: every event is written a second time ...
    const replay = collector(`${name}-g2`, 'c3');
    await waitFor(
      'the replay to index every event again',
      async () => (await stats()).indexed >= afterCrash.indexed + total,
      120_000,
      () => replay.log().slice(-2000),
    );
    expect(await replay.stop()).toBe(0);
    // ... and overwrites itself: still exactly one document per event.
    expect((await stats()).docs).toBe(total);
    expect(again.log() + replay.log()).not.toMatch(/"level":(50|60)/);
  });
});

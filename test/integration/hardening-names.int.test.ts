// Issue #12, names that come from logs: twelve services (as from pod names anyone can pick)
// through an agent whose topic is `<prefix>.{service}` with topic_max_distinct: 4, and a
// collector whose index is `<prefix>-{service}-%Y.%m.%d` with index_max_distinct: 3, with
// the built CLI on the shared broker and node. Kafka gets 4 topics and `_other`,
// Elasticsearch 3 indices and `_other`, and every event is indexed exactly once by number.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { workspace } from './bus-harness.js';
import { documents, dropIndices, indicesOf } from '../support/elasticsearch.js';
import { waitFor } from '../support/index.js';

const brokers = inject('kafkaBrokers');
const url = inject('elasticsearchUrl');
const es = new Client({ node: url });
const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
const ws = workspace('sluice-names-', brokers);
const prefix = `sluice-names-${process.pid}-${Date.now()}`;
const SERVICES = 12;
const PER_SERVICE = 100;

async function topics(): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`)).sort();
  } finally {
    await admin.disconnect();
  }
}

interface Doc {
  _id: string;
  _index: string;
  _source: { message: string; service: string };
}

const docs = () => documents<Doc>(es, prefix);

afterAll(async () => {
  await dropIndices(es, prefix);
  await es.close();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: await topics() }).catch(() => undefined);
  await admin.disconnect();
});

describe('topic_max_distinct and index_max_distinct with twelve services', () => {
  it('make 4 topics + _other and 3 indices + _other; every event indexed exactly once', async () => {
    const scenario = ws.setup('names');
    const { logs } = scenario;
    for (let s = 0; s < SERVICES; s++) {
      const lines = Array.from({ length: PER_SERVICE }, (_, k) => `ev-${s * PER_SERVICE + k} from pod ${s}`);
      appendFileSync(join(logs, `pod-${String(s).padStart(2, '0')}.log`), `${lines.join('\n')}\n`);
    }
    const total = SERVICES * PER_SERVICE;
    const topic = `${prefix}.{service}`;
    const bus = { topic_max_distinct: 4 };
    const agent = scenario.agent({
      // The service is the file's name.
      source: { path_pattern: join(logs, '{service}.log'), service: undefined },
      topic,
      bus,
      producer: { partitions: 1 },
    });
    // Every service sent: the collector then finds all the topics at its first look.
    await waitFor(
      'the topics made',
      async () => (await topics()).length >= 5 && agent.log().includes('"msg":"sluice started"'),
      60_000,
      () => agent.log().slice(-2000),
    );
    const collector = scenario.collector({
      topic,
      bus,
      sinks: {
        search: {
          type: 'elasticsearch',
          url,
          index: `${prefix}-{service}-%Y.%m.%d`,
          index_max_distinct: 3,
          template: { name: prefix, replicas: 0 },
        },
      },
    });
    await waitFor(
      `${total} documents`,
      async () => (await docs()).length >= total,
      120_000,
      async () => `${(await docs()).length} documents\n${collector.log().slice(-2000)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);

    const made = await topics();
    expect(made).toHaveLength(5);
    expect(made).toContain(`${prefix}._other`);
    const own = made.filter((t) => !t.endsWith('._other')).map((t) => t.slice(prefix.length + 1));
    expect(own.every((s) => /^pod-\d\d$/.test(s))).toBe(true);

    const names = await indicesOf(es, prefix);
    expect(names).toHaveLength(4);
    expect(names.filter((i) => i.startsWith(`${prefix}-_other-`))).toHaveLength(1);

    const stored = await docs();
    const numbers = stored.map((d) => Number(/^ev-(\d+) /.exec(d._source.message)![1]));
    expect(new Set(numbers).size).toBe(total);
    expect(numbers.length).toBe(total);
    expect(Math.max(...numbers)).toBe(total - 1);
    // The overflowed services keep their name in the event; only the index is shared.
    const inOther = new Set(stored.filter((d) => d._index.startsWith(`${prefix}-_other-`)).map((d) => d._source.service));
    expect(inOther.size).toBe(SERVICES - 3);
    for (const s of inOther) expect(s).toMatch(/^pod-\d\d$/);
    expect(agent.log()).toMatch(/"max_distinct":4/);
    expect(collector.log()).toMatch(/"max_distinct":3/);
  });
});

// A collector with `dead_letter: {type: kafka}`, through the built CLI on the shared broker, with
// each Kafka client: records that do not decode and an event no route takes land in the
// dead-letter topic with their reason (value, header and key), the group commits past them, and
// the dead-letter has the metrics and state of every component. An entry larger than the
// dead-letter topic takes goes to the local refused file instead of holding the partition.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { encodeEvent } from '../../core/wire.js';
import { waitFor } from '../../test/support/index.js';
import { ready, scrape, value } from '../../test/integration/api-harness.js';
import { BUS_CLIENTS, skipWhenMissing, topicsDeletedAfterAll, workspace } from '../../test/integration/bus-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const kafka = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING });
// One collector process (--workers 1, the workspace's default): its api and metrics are the only ones.
const { setup, start } = workspace('sluice-dl-kafka-');
const created = topicsDeletedAfterAll(kafka);

const event = (n: number, module: string) =>
  encodeEvent({ id: `id-${n}`, timestamp: 0, message: `ev-${n}`, service: 's', module, host: 'h', source: { kind: 'test' }, fields: {} });

/** Every record of `topic` from the beginning, once `expected` are there. */
async function readTopic(topic: string, expected: number): Promise<kafkajs.KafkaMessage[]> {
  const seen: kafkajs.KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  await waitFor(
    `${expected} records in ${topic}`,
    () => seen.length >= expected,
    60_000,
    () => `${seen.length} read`,
  );
  await consumer.disconnect();
  return seen;
}

/** The api of a process, from the "api listening" line it logs (its port is picked at start). */
async function apiOf(log: () => string): Promise<Parameters<typeof scrape>[0]> {
  let url = '';
  await waitFor('the api to listen', () => {
    const line = log()
      .split('\n')
      .find((l) => l.includes('"api listening"'));
    if (line) url = (JSON.parse(line) as { url: string }).url;
    return line !== undefined;
  });
  return { url: new URL(url) };
}

/** A collector reading `topic` that routes module "keep" to a console sink and dead-letters to `dlTopic`, its data in `dir`/data. */
function collectorYaml(c: { client: string; dir: string; topic: string; group: string; dlTopic: string }): string {
  return [
    `data_dir: ${join(c.dir, 'data')}`,
    `bus: { type: kafka, client: ${c.client}, brokers: [${brokers}], topic: ${c.topic}, consumer: { group_id: ${c.group}, max_wait: 100ms, heartbeat_interval: 1s, session_timeout: 10s } }`,
    'sinks:',
    '  out: { type: console, encoding: json }',
    'routes:',
    '  rules:',
    '    - match: { module: keep }',
    '      sinks: [out]',
    'dead_letter:',
    '  type: kafka',
    `  topic: ${c.dlTopic}`,
    'api: { address: "127.0.0.1:0" }',
    '',
  ].join('\n');
}

describe.each(BUS_CLIENTS)('kafka dead-letter [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('produces undecodable records and unrouted events to its topic with their reason, and the group commits past them', async () => {
    const { dir, topic, group } = setup(`kafka-${client}`);
    const dlTopic = `${topic}-dl`;
    created.push(topic, dlTopic);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    try {
      await admin.createTopics({
        topics: [topic, dlTopic].map((t) => ({ topic: t, numPartitions: 1, replicationFactor: 1 })),
        waitForLeaders: true,
      });
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { value: event(0, 'keep') },
          { value: '{not json' },
          { value: event(1, 'drop') },
          { key: 'k', value: '{"v":2,"id":"x"}' },
          { value: event(2, 'keep') },
        ],
      });
      const collector = start('collector', dir, 'collector', collectorYaml({ client, dir, topic, group, dlTopic }));
      const api = await apiOf(() => collector.log());
      const id = { component: 'dead-letter', kind: 'dead_letter', type: 'kafka' };
      await waitFor(
        '3 entries kept by the dead-letter',
        async () => value((await scrape(api)).families, 'sluice_component_sent_events_total', id) >= 3,
        60_000,
        () => collector.log().slice(-2000),
      );
      const families = (await scrape(api)).families;
      expect(value(families, 'sluice_component_received_events_total', id)).toBe(3);
      expect(value(families, 'sluice_component_errors_total', id)).toBe(0);
      expect(value(families, 'sluice_dead_letter_entries_total', { kind: 'record' })).toBe(2);
      expect(value(families, 'sluice_dead_letter_entries_total', { kind: 'event' })).toBe(1);
      expect(value(families, 'sluice_component_discarded_events_total', { component: 'bus', reason: 'undecodable' })).toBe(2);
      expect(value(families, 'sluice_component_discarded_events_total', { component: 'routes', reason: 'unrouted' })).toBe(1);
      const states = (await ready(api)).body.components.map((c) => [c.component, c.kind, c.type, c.state]);
      expect(states).toContainEqual(['dead-letter', 'dead_letter', 'kafka', 'running']);
      await waitFor(
        '2 events at the sink',
        () => readFileSync(join(dir, 'collector.out'), 'utf8').trimEnd().split('\n').filter(Boolean).length >= 2,
      );
      // The api listens before the CLI takes SIGTERM over: a stop sent in between would kill it.
      await waitFor('the collector started', () => collector.log().includes('"msg":"sluice started"'));
      expect(await collector.stop(), collector.log().slice(-4000)).toBe(0);

      const records = await readTopic(dlTopic, 3);
      const entries = records.map((r) => ({
        key: r.key?.toString() ?? null,
        header: r.headers?.reason?.toString(),
        value: JSON.parse(r.value!.toString()) as Record<string, unknown>,
      }));
      expect(entries.map((e) => e.header)).toEqual(entries.map((e) => e.value.reason));
      const undecodable = entries
        .filter((e) => e.value.offset !== undefined)
        .sort((a, b) => Number(a.value.offset) - Number(b.value.offset));
      expect(undecodable.map(({ key, value: { time: _t, ...rest } }) => ({ key, ...rest }))).toEqual([
        {
          key: null,
          reason: expect.stringMatching(/^not a Sluice event: invalid JSON/),
          topic,
          partition: 0,
          offset: '1',
          value: '{not json',
        },
        {
          key: 'k',
          reason: 'unsupported wire version 2 (this Sluice reads version 1)',
          topic,
          partition: 0,
          offset: '3',
          value: '{"v":2,"id":"x"}',
        },
      ]);
      const unrouted = entries.filter((e) => e.value.event !== undefined);
      expect(unrouted.map((e) => [e.key, (e.value.event as { id: string }).id, e.value.reason])).toEqual([
        ['s/drop', 'id-1', expect.stringMatching(/no route/)],
      ]);
      expect(await admin.fetchOffsets({ groupId: group, topics: [topic] })).toEqual([
        { topic, partitions: [expect.objectContaining({ partition: 0, offset: '5' })] },
      ]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
  it('keeps an entry larger than the topic takes in the refused file, writes the others to the topic, and commits past them', async () => {
    const { dir, topic, group } = setup(`kafka-big-${client}`);
    const dlTopic = `${topic}-dl`;
    created.push(topic, dlTopic);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    // Not UTF-8: its entry keeps it as base64, a third larger, over the dead-letter topic's
    // max.message.bytes though the record is under it.
    const big = Buffer.alloc(1800, 0xff);
    try {
      await admin.createTopics({
        topics: [
          { topic, numPartitions: 1, replicationFactor: 1 },
          { topic: dlTopic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] },
        ],
        waitForLeaders: true,
      });
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { value: event(0, 'keep') },
          { value: '{not json' },
          { value: big },
          { value: event(1, 'drop') },
          { value: event(2, 'keep') },
        ],
      });
      const collector = start('collector', dir, 'collector', collectorYaml({ client, dir, topic, group, dlTopic }));
      const api = await apiOf(() => collector.log());
      const id = { component: 'dead-letter', kind: 'dead_letter', type: 'kafka' };
      await waitFor(
        '3 entries kept by the dead-letter',
        async () => value((await scrape(api)).families, 'sluice_component_sent_events_total', id) >= 3,
        60_000,
        () => collector.log().slice(-2000),
      );
      const families = (await scrape(api)).families;
      expect(value(families, 'sluice_component_sent_events_total', id)).toBe(3);
      expect(value(families, 'sluice_component_errors_total', id)).toBe(0);
      expect(value(families, 'sluice_dead_letter_topic_refused_entries_total', { error: 'MESSAGE_TOO_LARGE' })).toBe(1);
      expect(value(families, 'sluice_dead_letter_entries_total', { kind: 'record' })).toBe(2);
      expect(value(families, 'sluice_dead_letter_entries_total', { kind: 'event' })).toBe(1);
      await waitFor('the collector started', () => collector.log().includes('"msg":"sluice started"'));
      expect(await collector.stop(), collector.log().slice(-4000)).toBe(0);

      const file = join(dir, 'data', 'dead-letter', 'refused.jsonl');
      const refusals = collector
        .log()
        .split('\n')
        .filter((l) => l.includes('"the dead-letter topic refused entries for good; kept them in the file"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(refusals.map(({ topic: t, reason, entries, bytes, file: f }) => ({ topic: t, reason, entries, bytes, file: f }))).toEqual([
        {
          topic: dlTopic,
          reason: expect.stringMatching(/^MESSAGE_TOO_LARGE: kafka refused the record for good/),
          entries: 1,
          bytes: expect.any(Number),
          file,
        },
      ]);
      expect(refusals[0]!.bytes).toBeGreaterThan(2000);
      const kept = readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(kept.map(({ time: _t, ...rest }) => rest)).toEqual([
        { reason: expect.stringMatching(/^not a Sluice event/), topic, partition: 0, offset: '2', value_base64: big.toString('base64') },
      ]);

      const records = await readTopic(dlTopic, 2);
      expect(await admin.fetchTopicOffsets(dlTopic)).toEqual([expect.objectContaining({ partition: 0, high: '2' })]);
      expect(
        records
          .map((r) => JSON.parse(r.value!.toString()) as { offset?: string; value?: string; event?: { id: string } })
          .map((e) => e.value ?? e.event!.id)
          .sort(),
      ).toEqual(['id-1', '{not json']);
      expect(await admin.fetchOffsets({ groupId: group, topics: [topic] })).toEqual([
        { topic, partitions: [expect.objectContaining({ partition: 0, offset: '5' })] },
      ]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

// Agent -> Kafka -> collector through the built CLI on the shared broker, with each Kafka
// client: every event counted by number at the far end; poison records to the dead-letter;
// two collectors in one group sharing partitions while one leaves; one collector running
// two worker processes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { encodeEvent } from '../../core/wire.js';
import { makeEvent } from '../support/index.js';
import {
  BUS_CLIENTS,
  appendEvents,
  lossAndDuplicates,
  moduleWriter,
  outputs,
  skipWhenMissing,
  tally,
  waitFor,
  workspace,
} from './bus-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const { setup } = workspace('sluice-bus-', brokers);

describe.each(BUS_CLIENTS)('kafka bus end to end [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('delivers every event exactly once from a file through Kafka to a sink, and both halves stop cleanly on SIGTERM', async () => {
    const scenario = setup(`e2e-${client}`);
    const { dir, logFile } = scenario;
    const total = 20_000;
    appendEvents(logFile, 0, total / 2);
    const collector = scenario.collector({ client });
    const agent = scenario.agent({ client });
    appendEvents(logFile, total / 2, total / 2);
    const out = outputs.bind(null, dir, 'collector.out');
    await waitFor(
      `${total} events at the collector`,
      () => tally(out()).counts.size >= total,
      90_000,
      () => `${tally(out()).counts.size} so far\n${agent.log().slice(-2000)}\n${collector.log().slice(-2000)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    const t = tally(out());
    expect(lossAndDuplicates(t, total)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
    expect(agent.log()).not.toMatch(/"level":(50|60)/);
    expect(collector.log()).not.toMatch(/"level":(50|60)/);
  });

  it('sends records that do not decode to the dead-letter with reason and coordinates, and keeps consuming', async () => {
    const scenario = setup(`poison-${client}`);
    const { dir, topic, group } = scenario;
    const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    const event = (n: number) =>
      encodeEvent(makeEvent({ id: `id-${n}`, timestamp: 0, message: `ev-${n} x`, service: 's', module: 'm', host: 'h' }));
    const deadLetter = join(dir, 'dead-letter.jsonl');
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { value: event(0) },
          { value: '{not json' },
          { value: event(1) },
          { key: 'k', value: '{"v":2,"id":"x"}' },
          { value: null },
          { value: event(2) },
        ],
      });
      const collector = scenario.collector({ client, deadLetter });
      const out = () => outputs(dir, 'collector.out');
      await waitFor(
        '3 events at the collector',
        () => tally(out()).counts.size >= 3,
        60_000,
        () => collector.log().slice(-2000),
      );
      await producer.send({ topic, acks: -1, messages: [3, 4, 5].map((n) => ({ value: event(n) })) });
      await waitFor(
        '6 events at the collector',
        () => tally(out()).counts.size >= 6,
        60_000,
        () => collector.log().slice(-2000),
      );
      expect(await collector.stop()).toBe(0);
      expect(lossAndDuplicates(tally(out()), 6)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
      const entries = readFileSync(deadLetter, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.map(({ time: _t, ...rest }) => rest)).toEqual([
        { reason: expect.stringMatching(/^not a Sluice event: invalid JSON/), topic, partition: 0, offset: '1', value: '{not json' },
        {
          reason: 'unsupported wire version 2 (this Sluice reads version 1)',
          topic,
          partition: 0,
          offset: '3',
          key: 'k',
          value: '{"v":2,"id":"x"}',
        },
        { reason: 'record has no value (a tombstone?), not a Sluice event', topic, partition: 0, offset: '4', value: null },
      ]);
      // The group committed past the poison records and everything after them.
      expect(await admin.fetchOffsets({ groupId: group, topics: [topic] })).toEqual([
        { topic, partitions: [expect.objectContaining({ partition: 0, offset: '9' })] },
      ]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('shares partitions between two collectors of one group; one leaving mid-stream loses nothing', async () => {
    const scenario = setup(`group-${client}`);
    const { dir } = scenario;
    // One file per module: the record key is service/module, so eight modules spread over the partitions.
    const events = moduleWriter(dir);
    const agent = scenario.agent({ client });
    const a = scenario.collector({ client }, 'ca');
    const b = scenario.collector({ client }, 'cb');
    const all = () => [...outputs(dir, 'ca.out'), ...outputs(dir, 'cb.out')];
    // Keep events flowing until the group has settled with partitions on both members.
    await waitFor(
      'both collectors to receive events',
      () => {
        if (tally(outputs(dir, 'ca.out')).total > 0 && tally(outputs(dir, 'cb.out')).total > 0) return true;
        if (events.written < 200_000) events.write(800);
        return false;
      },
      60_000,
      () => `${a.log().slice(-1500)}\n${b.log().slice(-1500)}`,
    );
    events.write(12_000);
    // A leaves while events are still flowing: it finishes and commits its batches first.
    expect(await a.stop()).toBe(0);
    events.write(16_000);
    const total = events.written;
    await waitFor(
      `${total} events across the group`,
      () => tally(all()).counts.size >= total,
      90_000,
      () => `${tally(all()).counts.size} so far\n${b.log().slice(-2000)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    const result = lossAndDuplicates(tally(all()), total);
    console.log(
      `group: ${tally(outputs(dir, 'ca.out')).total} events at collector A, ${tally(outputs(dir, 'cb.out')).total} at B, ${result.duplicates} duplicates`,
    );
    expect(result).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
  });
});

describe.each(BUS_CLIENTS)('sluice collector --workers [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('runs two worker processes in one group that share the partitions, each event written once, one clean stop', async () => {
    const scenario = setup(`workers-${client}`);
    const { dir } = scenario;
    const events = moduleWriter(dir);
    events.write(16_000);
    const agent = scenario.agent({ client });
    const collector = scenario.collector({ client }, 'collector', ['--workers', '2']);
    const out = () => outputs(dir, 'collector.out');
    // Both workers hold partitions once the group has settled: keep events coming until then.
    const lastAssignment = (worker: number): string[] => {
      const lines = collector
        .log()
        .split('\n')
        .filter((l) => l.includes('"joined the consumer group"') && l.includes(`"worker":${worker}`));
      const last = lines.at(-1);
      return last ? (JSON.parse(last) as { partitions: string[] }).partitions : [];
    };
    await waitFor(
      'both workers to hold partitions',
      () => {
        if (lastAssignment(0).length > 0 && lastAssignment(1).length > 0) return true;
        if (events.written < 200_000) events.write(800);
        return false;
      },
      90_000,
      () => collector.log().slice(-3000),
    );
    events.write(8000);
    const total = events.written;
    await waitFor(
      `${total} events at the collector`,
      () => tally(out()).counts.size >= total,
      90_000,
      () => `${tally(out()).counts.size} so far\n${collector.log().slice(-3000)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    expect(lossAndDuplicates(tally(out()), total)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });
    // One log: the supervisor's start line and both workers' lines in the same stream.
    expect(collector.log()).toMatch(/"workers":2.*"msg":"sluice started"/);
    expect(collector.log()).not.toMatch(/"level":(50|60)/);
  });
});

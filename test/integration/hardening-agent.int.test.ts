// Issue #12 at the agent, with the built CLI and real Kafka: files rotated while the agent was
// down (globs of current names only, as most users write them), a checkpoint file that cannot
// be written, and a channel commit that fails on a really full disk once Kafka has the batch.
// Each time every line is in the topic under one event id, and the agent is back at work
// once the fault is gone.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { decodeEvent } from '../../core/wire.js';
import { apiWorkspace, scrape, value } from './api-harness.js';
import { AGENT_BATCH_EVENTS, QUIET, agentYaml, appendEvents, privateBroker, workspace } from './bus-harness.js';
import { fillDisk, tmpfs } from '../support/full-disk.js';
import { waitFor } from '../support/index.js';

const sharedBrokers = inject('kafkaBrokers');
const ws = workspace('sluice-hardening-agent-');

interface TopicContent {
  /** Records in the topic. */
  records: number;
  /** The event ids each line number ("ev-<n>") was sent under. */
  ids: Map<number, Set<string>>;
}

async function highWater(brokers: string, topic: string): Promise<number> {
  const admin = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}

/** Reads the whole topic: every record, by line number and event id. */
async function readTopic(brokers: string, topic: string): Promise<TopicContent> {
  const records = await highWater(brokers, topic);
  const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}-check-${Date.now()}` });
  const ids = new Map<number, Set<string>>();
  let read = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      read++;
      const e = decodeEvent(message.value!);
      const n = Number(/^ev-(\d+) /.exec(e.message)![1]);
      ids.set(n, (ids.get(n) ?? new Set()).add(e.id));
    },
  });
  await waitFor(
    `the ${records} records of ${topic}`,
    () => read >= records,
    60_000,
    () => `${read} read`,
  );
  await consumer.disconnect();
  return { records: read, ids };
}

/** Every line 0..total-1 is in the topic under one event id (a replay repeats that id, never a new one). */
function expectEveryLineUnderOneId(t: TopicContent, total: number): void {
  const missing = Array.from({ length: total }, (_, n) => n).filter((n) => !t.ids.has(n));
  expect(missing, 'lines missing from the topic').toEqual([]);
  expect(
    [...t.ids.keys()].filter((n) => n >= total),
    'unexpected lines',
  ).toEqual([]);
  expect(
    [...t.ids.entries()].filter(([, s]) => s.size !== 1).map(([n]) => n),
    'lines sent under two ids (read twice)',
  ).toEqual([]);
}

describe('files rotated while the agent was down (globs of current names only)', () => {
  it('three SIGKILLs, each followed by app.log renamed out of the globs, written on, and a new app.log: every line in Kafka under one id', async () => {
    const { dir, topic, logFile } = ws.setup('rotation');
    const yaml = agentYaml({ dataDir: join(dir, 'data'), logGlob: join(dir, 'logs', '*.log'), brokers: sharedBrokers, topic });
    let written = 0;
    const write = (file: string, count: number) => {
      appendEvents(file, written, count);
      written += count;
    };
    let agent = ws.start('agent', dir, 'agent', yaml);
    for (let round = 1; round <= 3; round++) {
      write(logFile, 3000);
      const before = written;
      await waitFor(
        `round ${round}: the agent sending the current file`,
        async () => (await highWater(sharedBrokers, topic)) >= before - 2500,
        60_000,
        () => agent.log().slice(-2000),
      );
      await agent.kill('SIGKILL');
      // As logrotate does while the agent is down: the file renamed to a name the globs do not
      // take, the service writing on to it until it reopens its log, then a new app.log.
      renameSync(logFile, `${logFile}.${round}`);
      write(`${logFile}.${round}`, 1000);
      write(logFile, 1000);
      agent = ws.start('agent', dir, 'agent', yaml);
    }
    write(logFile, 500);
    const total = written;
    await waitFor(
      `all ${total} lines in the topic`,
      async () => (await highWater(sharedBrokers, topic)) >= total && (await readTopic(sharedBrokers, topic)).ids.size >= total,
      120_000,
      () => agent.log().slice(-3000),
    );
    expect(await agent.stop()).toBe(0);
    const t = await readTopic(sharedBrokers, topic);
    expectEveryLineUnderOneId(t, total);
    // A SIGKILL replays at most the sends in flight, under the same ids (the sinks keep one copy).
    expect(t.records - total).toBeLessThanOrEqual(3 * 4 * AGENT_BATCH_EVENTS);
    const log = agent.log();
    expect(log).toContain('"how":"moved_while_stopped"');
  });
});

describe('a file source whose checkpoint file cannot be written', () => {
  it('keeps tailing while checkpoint.json is blocked, writes it again once unblocked, and resumes from it after a restart', async () => {
    const { dir, topic, logFile } = ws.setup('checkpoint');
    const yaml = agentYaml({ dataDir: join(dir, 'data'), logGlob: join(dir, 'logs', '*.log'), brokers: sharedBrokers, topic });
    const checkpoint = join(dir, 'data', 'sources', 'app', 'checkpoint.json');
    appendEvents(logFile, 0, 1000);
    let agent = ws.start('agent', dir, 'agent', yaml);
    await waitFor(
      'the checkpoint file',
      () => existsSync(checkpoint),
      60_000,
      () => agent.log().slice(-2000),
    );
    await waitFor('1000 lines in the topic', async () => (await highWater(sharedBrokers, topic)) >= 1000, 60_000);

    // A directory where the file goes: its atomic replace fails, as on a full disk.
    rmSync(checkpoint);
    mkdirSync(join(checkpoint, 'blocker'), { recursive: true });
    appendEvents(logFile, 1000, 1000);
    await waitFor(
      '"checkpoint file down"',
      () => agent.log().includes('"msg":"checkpoint file down"'),
      60_000,
      () => agent.log().slice(-2000),
    );
    appendEvents(logFile, 2000, 1000);
    await waitFor(
      '3000 lines in the topic',
      async () => (await highWater(sharedBrokers, topic)) >= 3000,
      60_000,
      () => agent.log().slice(-2000),
    );
    expect(agent.running).toBe(true);

    rmSync(checkpoint, { recursive: true });
    appendEvents(logFile, 3000, 1000);
    await waitFor(
      '"checkpoint file back"',
      () => agent.log().includes('"msg":"checkpoint file back"'),
      60_000,
      () => agent.log().slice(-2000),
    );
    await waitFor('4000 lines in the topic', async () => (await highWater(sharedBrokers, topic)) >= 4000, 60_000);
    await waitFor(
      'the checkpoint at the end of the file',
      () => existsSync(checkpoint) && readFileSync(checkpoint, 'utf8').includes(`"pos":${readFileSync(logFile).length}`),
      60_000,
      () => (existsSync(checkpoint) ? readFileSync(checkpoint, 'utf8') : 'no checkpoint file'),
    );
    expect(await agent.stop()).toBe(0);
    expect(agent.log().match(/"msg":"checkpoint file down"/g)).toHaveLength(1);
    expect(agent.log()).not.toContain('file source failed');

    // Restarted: it goes on from its checkpoint, reading nothing twice.
    appendEvents(logFile, 4000, 1000);
    agent = ws.start('agent', dir, 'agent2', yaml);
    await waitFor(
      '5000 lines in the topic',
      async () => (await highWater(sharedBrokers, topic)) >= 5000,
      60_000,
      () => agent.log().slice(-2000),
    );
    expect(await agent.stop()).toBe(0);
    const t = await readTopic(sharedBrokers, topic);
    expectEveryLineUnderOneId(t, 5000);
    expect(t.records).toBe(5000);
  });
});

describe('a channel commit that fails on a full disk after Kafka acked the batch', () => {
  const aws = apiWorkspace('sluice-hardening-commit-');
  const disk = tmpfs('3m');

  it('retries the commit until there is room, never sends the batch again, and forwards what comes next', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const broker = privateBroker('kafka-hardening-commit');
    let filler = '';
    try {
      await broker.start(QUIET);
      const { dir, logs } = aws.setup('commit');
      const topic = `sluice-hardening-commit-${process.pid}`;
      appendEvents(join(logs, 'first.log'), 0, 100);
      const agent = aws.start(
        'agent',
        dir,
        'agent',
        agentYaml({
          dataDir: join(dir, 'data'),
          logGlob: join(logs, '*.log'),
          channel: { path: join(disk.path, 'channel'), max_bytes: '2MiB', segment_bytes: '512KiB' },
          brokers: broker.brokers,
          topic,
          producer: { partitions: 1 },
        }),
      );
      const api = await agent.api();
      const metric = async (name: string, component: string) => value((await scrape(api)).families, name, { component });
      await waitFor(
        'the first 100 lines in the topic',
        async () => (await highWater(broker.brokers, topic)) >= 100,
        60_000,
        () => agent.log().slice(-2000),
      );

      // Kafka down; 200 new files read into the channel: their checkpoints make the channel's
      // pointer (rewritten at each commit) grow by pages it will not get.
      await broker.kill();
      const name = (i: number) => join(logs, `service-${String(i).padStart(3, '0')}-${'n'.repeat(80)}.log`);
      for (let i = 0; i < 200; i++) appendEvents(name(i), 100 + i * 5, 5);
      await waitFor(
        'the 1000 new lines in the channel',
        async () => (await metric('sluice_channel_buffered_events', 'channel')) >= 1000,
        60_000,
        async () =>
          (await scrape(api)).text
            .split('\n')
            .filter((l) => l.startsWith('sluice_channel'))
            .join('\n'),
      );
      filler = await fillDisk(disk.path);

      await broker.start(QUIET);
      await waitFor(
        '"channel commit down"',
        () => agent.log().includes('"msg":"channel commit down"'),
        90_000,
        () => agent.log().slice(-3000),
      );
      await waitFor(
        'three failed commits',
        async () => (await metric('sluice_forwarder_commit_failures_total', 'forwarder')) >= 3,
        60_000,
        async () =>
          (await scrape(api)).text
            .split('\n')
            .filter((l) => l.startsWith('sluice_forwarder'))
            .join('\n'),
      );
      // Kafka has the batch once; the agent did not crash nor send it again.
      expect(agent.running).toBe(true);
      const sent = await highWater(broker.brokers, topic);
      expect(sent).toBeLessThanOrEqual(1100);

      await unlink(filler);
      await waitFor(
        '"channel commit back"',
        () => agent.log().includes('"msg":"channel commit back"'),
        60_000,
        () => agent.log().slice(-3000),
      );
      appendEvents(join(logs, 'first.log'), 1100, 100);
      await waitFor(
        'all 1200 lines in the topic',
        async () => (await highWater(broker.brokers, topic)) >= 1200,
        60_000,
        () => agent.log().slice(-3000),
      );
      await waitFor('the channel empty', async () => (await metric('sluice_channel_buffered_events', 'channel')) === 0, 60_000);
      expect(await agent.stop()).toBe(0);
      const t = await readTopic(broker.brokers, topic);
      expectEveryLineUnderOneId(t, 1200);
      expect(t.records).toBe(1200);
      expect(agent.log().match(/"msg":"channel commit down"/g)).toHaveLength(1);
    } finally {
      if (filler) await unlink(filler).catch(() => undefined);
      await broker.destroy();
    }
  });
});

describe('SIGTERM while Kafka is down and a source waits for room in a full channel', () => {
  const aws = apiWorkspace('sluice-hardening-sigterm-');

  it('exits 0 after its drain timeout, and the next start sends every line once the broker is back', async () => {
    const broker = privateBroker('kafka-hardening-sigterm');
    try {
      // Started once for its address, then killed: the agent never sees it up.
      await broker.start(QUIET);
      await broker.kill();
      const { dir, logs } = aws.setup('sigterm');
      const topic = `sluice-hardening-sigterm-${process.pid}`;
      appendEvents(join(logs, 'app.log'), 0, 20_000, 150);
      const yaml = agentYaml({
        dataDir: join(dir, 'data'),
        logGlob: join(logs, '*.log'),
        source: { batch: { max_events: 500 } },
        channel: { max_bytes: '1MiB', segment_bytes: '256KiB' },
        brokers: broker.brokers,
        topic,
        producer: { partitions: 1 },
        shutdown: { drain_timeout: '1s' },
      });
      const first = aws.start('agent', dir, 'agent', yaml);
      await waitFor(
        'the channel to fill while Kafka is down',
        () => first.log().includes('"msg":"channel full; puts wait and sources pause"'),
        60_000,
        () => first.log().slice(-2000),
      );
      // No timing asserted: a hang shows as the test's own timeout.
      expect(await first.stop()).toBe(0);
      expect(first.log()).toContain('"msg":"drain timeout: events stay in the channel and are sent on the next start"');

      await broker.start(QUIET);
      const second = aws.start('agent', dir, 'agent2', yaml);
      await waitFor(
        'the 20,000 lines in the topic',
        async () => (await highWater(broker.brokers, topic)) >= 20_000,
        120_000,
        () => second.log().slice(-2000),
      );
      expect(await second.stop()).toBe(0);
      const t = await readTopic(broker.brokers, topic);
      expectEveryLineUnderOneId(t, 20_000);
      expect(t.records).toBe(20_000);
    } finally {
      await broker.destroy();
    }
  });
});

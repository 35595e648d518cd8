// Crashes mid-stream, through the built CLI: the broker killed (SIGKILL) for a while and
// restarted, the agent killed and restarted, the collector killed and restarted. Every
// event must arrive; replays are counted and reported, never hidden. The broker test runs
// its own private broker so that killing it does not disturb other test runs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SENDS_IN_FLIGHT } from '../../bus/kafka/client.js';
import {
  AGENT_BATCH_EVENTS,
  BUS_CLIENTS,
  QUIET,
  agentYaml,
  collectorYaml,
  lossAndDuplicates,
  moduleWriter,
  outputs,
  privateBroker,
  skipWhenMissing,
  tally,
  waitFor,
  workspace,
} from './bus-harness.js';

const sharedBrokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
/** How long the broker stays dead: long enough for producers and consumers to give up their internal retries. */
const BROKER_DOWN_MS = 30_000;
const { setup, start } = workspace('sluice-bus-fail-');

describe.each(BUS_CLIENTS)('kafka bus under failures [$client]', ({ client, missing }) => {
  skipWhenMissing(missing);

  it('loses nothing when the broker is SIGKILLed for a while mid-stream and comes back', async () => {
    const broker = privateBroker(`kafka-bus-fail-${client}`);
    try {
      await broker.start(QUIET);
      const brokers = broker.brokers;
      const scenario = setup(`broker-kill-${client}`);
      const { dir } = scenario;
      const w = moduleWriter(dir);
      w.write(8000);
      const agent = scenario.agent({ client, brokers });
      const collector = scenario.collector({ client, brokers });
      const out = () => outputs(dir, 'collector.out');
      await waitFor(
        'the first events at the collector',
        () => tally(out()).total > 0,
        60_000,
        () => agent.log().slice(-2000),
      );
      await broker.kill();
      // Events keep coming while Kafka is dead: they wait in the agent's disk channel.
      w.write(8000);
      await new Promise((r) => setTimeout(r, BROKER_DOWN_MS));
      expect(agent.running && collector.running).toBe(true);
      await broker.start(QUIET);
      w.write(8000);
      const total = w.written;
      await waitFor(
        `${total} events after the broker came back`,
        () => tally(out()).counts.size >= total,
        120_000,
        () => `${tally(out()).counts.size} so far\n${agent.log().slice(-3000)}\n${collector.log().slice(-3000)}`,
      );
      expect(await agent.stop()).toBe(0);
      expect(await collector.stop()).toBe(0);
      const result = lossAndDuplicates(tally(out()), total);
      const commitFailures = collector.log().match(/offset commit failed:/g)?.length ?? 0;
      console.log(`broker kill: ${total} events, ${result.duplicates} duplicates (collector offset commits failed: ${commitFailures})`);
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toBe(0);
      // What the design allows: with kafkajs, the sends in flight when the broker died may
      // have been appended without their acks arriving, and are sent again (a new producer
      // id, so the broker cannot recognise them). librdkafka retries them with their own
      // sequence numbers and the retried send waits for them: 0 in every run since. Batches
      // the collector wrote while it could not commit are skipped when read again.
      expect(result.duplicates).toBeLessThanOrEqual(SENDS_IN_FLIGHT[client] * AGENT_BATCH_EVENTS);
      // The outage was logged when it began and when it ended, not once per retry. A restarted
      // broker may refuse one more send while it loads its logs: a second short outage, logged
      // as such, is allowed; a line per retry is not.
      const downs = agent.log().match(/"msg":"bus down"/g)?.length ?? 0;
      expect(downs).toBeGreaterThanOrEqual(1);
      expect(downs).toBeLessThanOrEqual(2);
      expect(agent.log().match(/"msg":"bus back"/g)?.length).toBe(downs);
    } finally {
      await broker.destroy();
    }
  });

  it('stops on SIGTERM while the broker is dead with sends queued, and delivers them after the restart', async () => {
    const broker = privateBroker(`kafka-bus-stop-${client}`);
    try {
      await broker.start(QUIET);
      const brokers = broker.brokers;
      const scenario = setup(`stop-while-down-${client}`);
      const { dir } = scenario;
      const w = moduleWriter(dir);
      w.write(800);
      const first = scenario.agent({ client, brokers });
      await waitFor(
        'the agent connected',
        () => first.log().includes('kafka producer connected'),
        60_000,
        () => first.log().slice(-2000),
      );
      await broker.kill();
      // Taken from the channel and handed to the producer, which cannot deliver them.
      w.write(8000);
      await new Promise((r) => setTimeout(r, 3000));
      const stopping = Date.now();
      expect(await first.stop()).toBe(0);
      // Not held until the records time out: librdkafka never gives them up on its own. The
      // stop takes up to the drain_timeout twice (5 s to drain, 5 s for the sends out); the
      // rest is margin for a loaded machine, and the log line says which step took it.
      const took = Date.now() - stopping;
      const stopped = first.log().match(/\{[^\n]*"msg":"pipeline stopped"[^\n]*\}/)?.[0];
      expect(stopped, first.log().slice(-4000)).toBeDefined();
      const steps = JSON.parse(stopped!) as Record<string, number>;
      console.log(`stop with the broker dead (${client}): ${stopped}`);
      expect(Object.keys(steps).filter((k) => k.endsWith('_ms'))).toEqual([
        'reloads_ms',
        'sources_ms',
        'drain_ms',
        'forwarder_ms',
        'producer_ms',
        'dead_letter_ms',
        'channel_ms',
        'api_ms',
        'total_ms',
      ]);
      expect(took, `stop took ${took} ms: ${stopped}`).toBeLessThan(45_000);
      await broker.start(QUIET);
      // The same data directory: the events come from the first agent's channel.
      scenario.agent({ client, brokers, dataDir: join(dir, 'agent') }, 'agent2');
      const collector = scenario.collector({ client, brokers });
      const out = () => outputs(dir, 'collector.out');
      await waitFor(
        `${w.written} events after the restart`,
        () => tally(out()).counts.size >= w.written,
        120_000,
        () => collector.log().slice(-2000),
      );
      expect(await collector.stop()).toBe(0);
      const result = lossAndDuplicates(tally(out()), w.written);
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toBe(0);
      expect(result.duplicates).toBeLessThanOrEqual(SENDS_IN_FLIGHT[client] * AGENT_BATCH_EVENTS);
    } finally {
      await broker.destroy();
    }
  });

  // Why a replay happens: what the victim had in flight when it died is sent or read again.
  const replays = {
    agent: 'a send in flight when the agent died is sent again',
    collector: 'batches written but not committed when it died are read again',
  };
  it.each(['agent', 'collector'] as const)(
    'loses nothing when the %s is SIGKILLed mid-stream and restarted; replays are counted',
    async (victim) => {
      const { dir, topic, group } = setup(`${victim}-kill-${client}`);
      const w = moduleWriter(dir);
      const yaml = {
        agent: agentYaml({ client, dataDir: join(dir, 'a'), logGlob: join(dir, 'logs', '*.log'), brokers: sharedBrokers, topic }),
        collector: collectorYaml({ client, dataDir: join(dir, 'c'), brokers: sharedBrokers, topic, group }),
      };
      const survivorRole = victim === 'agent' ? 'collector' : 'agent';
      const survivor = start(survivorRole, dir, survivorRole, yaml[survivorRole]);
      const first = start(victim, dir, victim, yaml[victim]);
      const out = () => outputs(dir, 'collector').filter((f) => f.endsWith('.out'));
      w.write(40_000);
      await waitFor(
        'events flowing',
        () => tally(out()).total > 1000,
        60_000,
        () => first.log().slice(-2000),
      );
      await first.kill();
      w.write(8000);
      const second = start(victim, dir, `${victim}2`, yaml[victim]);
      const total = w.written;
      await waitFor(
        `${total} events after the ${victim} restarted`,
        () => tally(out()).counts.size >= total,
        90_000,
        () => `${tally(out()).counts.size} so far\n${second.log().slice(-3000)}`,
      );
      expect(await second.stop()).toBe(0);
      expect(await survivor.stop()).toBe(0);
      const result = lossAndDuplicates(tally(out()), total);
      console.log(`${victim} kill: ${total} events, ${result.duplicates} duplicates (${replays[victim]})`);
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toBe(0);
    },
  );
});

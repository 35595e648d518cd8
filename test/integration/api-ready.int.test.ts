// /ready follows the bus: a private Kafka broker is SIGKILLed under a running agent and
// collector (built CLI), both turn not ready and say why; the broker comes back, both turn
// ready again. Nothing else changes meanwhile: /health stays 200 (restarting would not help).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../../api/client.js';
import { KafkaService } from '../services/services.mjs';
import { waitFor } from '../support/index.js';
import { apiWorkspace, ready } from './api-harness.js';
import { appendEvents } from './bus-harness.js';

const { setup, start } = apiWorkspace('sluice-api-ready-');

describe('/ready while Kafka is killed', () => {
  it('turns false on the agent and the collector while the broker is dead, and true once it is back', async () => {
    const broker = new KafkaService({ name: `kafka-api-ready-${process.pid}`, port: 0, controllerPort: 0, heap: '256m' });
    const quiet = { log: () => undefined };
    try {
      await broker.start(quiet);
      const { dir, logs } = setup('ready');
      const topic = `sluice-api-ready-${process.pid}`;
      appendEvents(join(logs, 'a.log'), 0, 100);
      const agent = start(
        'agent',
        dir,
        'agent',
        [
          `data_dir: ${join(dir, 'agent')}`,
          'sources:',
          `  app: { type: file, include: ["${join(logs, '*.log')}"], start_at: beginning, poll_interval: 50ms }`,
          'channel: { type: disk, max_bytes: 64MiB, segment_bytes: 1MiB }',
          `bus: { type: kafka, brokers: ["${broker.brokers}"], topic: ${topic}, producer: { partitions: 1, replication_factor: 1 } }`,
          'api: { address: "127.0.0.1:0" }',
          '',
        ].join('\n'),
      );
      const collector = start(
        'collector',
        dir,
        'collector',
        [
          `data_dir: ${join(dir, 'collector')}`,
          `bus: { type: kafka, brokers: ["${broker.brokers}"], topic: ${topic}, consumer: { group_id: ${topic}-g, max_wait: 100ms } }`,
          'sinks:',
          '  out: { type: console, encoding: json }',
          'api: { address: "127.0.0.1:0" }',
          '',
        ].join('\n'),
      );
      const apis = [await agent.api(), await collector.api()];
      const states = async () => Promise.all(apis.map((a) => ready(a)));
      await waitFor(
        'both ready',
        async () => (await states()).every((r) => r.status === 200),
        60_000,
        async () => JSON.stringify((await states()).map((r) => r.body.reasons)),
      );

      await broker.kill();
      await waitFor(
        'both not ready',
        async () => (await states()).every((r) => r.status === 503),
        60_000,
        async () => JSON.stringify((await states()).map((r) => r.body.reasons)),
      );
      for (const r of await states()) {
        expect(r.body.status).toBe('not ready');
        expect(r.body.reasons).toEqual([expect.stringMatching(/^bus failing for \d+s: /)]);
        expect(r.body.components.find((c) => c.component === 'bus')).toMatchObject({
          kind: 'bus',
          type: 'kafka',
          state: 'failing',
          ready: false,
        });
      }
      // Liveness is not readiness: a dead broker is no reason to restart Sluice.
      for (const a of apis) expect((await call(a, '/health')).status).toBe(200);
      expect(agent.running && collector.running).toBe(true);

      await broker.start(quiet);
      await waitFor(
        'both ready again',
        async () => (await states()).every((r) => r.status === 200),
        90_000,
        async () => JSON.stringify((await states()).map((r) => r.body.reasons)),
      );
      expect(await agent.stop()).toBe(0);
      expect(await collector.stop()).toBe(0);
    } finally {
      await broker.destroy();
    }
  });
});

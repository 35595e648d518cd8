// /ready follows the bus: a private Kafka broker is SIGKILLed under a running agent and
// collector (built CLI), both turn not ready and say why; the broker comes back, both turn
// ready again. Nothing else changes meanwhile: /health stays 200 (restarting would not help).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../../api/client.js';
import { waitFor } from '../support/index.js';
import { apiWorkspace, ready } from './api-harness.js';
import { QUIET, agentYaml, appendEvents, collectorYaml, privateBroker } from './bus-harness.js';

const { setup, start } = apiWorkspace('sluice-api-ready-');

describe('/ready while Kafka is killed', () => {
  it('turns false on the agent and the collector while the broker is dead, and true once it is back', async () => {
    const broker = privateBroker('kafka-api-ready');
    try {
      await broker.start(QUIET);
      const { dir, logs } = setup('ready');
      const topic = `sluice-api-ready-${process.pid}`;
      appendEvents(join(logs, 'a.log'), 0, 100);
      const agent = start(
        'agent',
        dir,
        'agent',
        agentYaml({
          dataDir: join(dir, 'agent'),
          logGlob: join(logs, '*.log'),
          brokers: broker.brokers,
          topic,
          producer: { partitions: 1 },
        }),
      );
      const collector = start(
        'collector',
        dir,
        'collector',
        collectorYaml({ dataDir: join(dir, 'collector'), brokers: broker.brokers, topic, group: `${topic}-g` }),
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

      await broker.start(QUIET);
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

// The bus probe behind /ready, with each client, against the shared broker and against an
// address where nothing listens. An agent on librdkafka probes on librdkafka (no kafkajs
// loaded), everything else on kafkajs; the broker-kill path is test/integration/api-ready.
import { describe, expect, it } from 'vitest';
import { BUS_CLIENTS, SHARED_BROKERS, skipWhenMissing } from '../../test/integration/bus-harness.js';
import { captureLogger, waitFor } from '../../test/support/index.js';
import { KafkaBus } from './index.js';
import { kafkaBusOptions } from './options.js';

/** What a probe reported, in order: 'ok', or the failure's message. */
function recorder(): { health: { ok(): void; failed(err: unknown): void }; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    health: {
      ok: () => seen.push('ok'),
      failed: (err) => seen.push(err instanceof Error ? err.message : String(err)),
    },
  };
}

/** A bus on a topic of its own, never created: nothing else on the shared broker makes it exist. */
function bus(client: string, brokers: string): KafkaBus {
  const { logger } = captureLogger();
  const topic = `sluice-probe-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const options = kafkaBusOptions.parse({ client, brokers: brokers.split(','), topic, connection_timeout: '1s' });
  return new KafkaBus(options, { name: 'bus', logger });
}

const SIDES = ['producer', 'consumer'] as const;

describe.each(BUS_CLIENTS)('bus probe on $client', ({ client, missing }) => {
  skipWhenMissing(missing);

  // The topic is never created: a collector started before any agent sent must still be ready.
  it.each(SIDES)(
    '%s side: ok while the broker answers, its topic not created yet',
    async (side) => {
      const { logger } = captureLogger();
      const { health, seen } = recorder();
      const probe = bus(client, SHARED_BROKERS).probe(side, health, logger);
      try {
        // Two rounds, 5 s apart: the consumer side's lag, measured after each answer, must not fail either.
        await waitFor(
          'two answers',
          () => seen.length >= 2,
          30_000,
          () => seen.join(' | '),
        );
        expect(seen.slice(0, 2)).toEqual(['ok', 'ok']);
      } finally {
        await probe.stop();
      }
    },
    60_000,
  );

  it.each(SIDES)(
    '%s side: failing with the reason while nothing listens',
    async (side) => {
      const { logger } = captureLogger();
      const { health, seen } = recorder();
      const probe = bus(client, '127.0.0.1:1').probe(side, health, logger);
      try {
        await waitFor(
          'the first answer',
          () => seen.length > 0,
          30_000,
          () => seen.join(' | '),
        );
        expect(seen).toEqual([expect.stringMatching(/^kafka unreachable: /)]);
      } finally {
        await probe.stop();
      }
    },
    60_000,
  );

  it.each(SIDES)(
    '%s side: a stop while it connects sends no request after the connect',
    async (side) => {
      const { logger } = captureLogger();
      const { health, seen } = recorder();
      // Stopped at once: the connect to the broker is under way.
      await bus(client, SHARED_BROKERS).probe(side, health, logger).stop();
      expect(seen).toEqual([]);
    },
    60_000,
  );
});

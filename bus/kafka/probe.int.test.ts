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

function bus(client: string, brokers: string): KafkaBus {
  const { logger } = captureLogger();
  const options = kafkaBusOptions.parse({ client, brokers: brokers.split(','), topic: 'sluice-probe', connection_timeout: '1s' });
  return new KafkaBus(options, { name: 'bus', logger });
}

describe.each(BUS_CLIENTS)('bus probe on $client', ({ client, missing }) => {
  skipWhenMissing(missing);

  // The topic is never created: a collector started before any agent sent must still be ready.
  it.each(['producer', 'consumer'] as const)(
    '%s side: ok while the broker answers, its topic not created yet, then stops',
    async (side) => {
      const { logger } = captureLogger();
      const { health, seen } = recorder();
      const probe = bus(client, SHARED_BROKERS).probe(side, health, logger);
      // Two rounds, 5 s apart: the consumer side's lag, measured after each answer, must not fail either.
      await waitFor(
        'two answers',
        () => seen.length >= 2,
        30_000,
        () => seen.join(' | '),
      );
      expect(seen.slice(0, 2)).toEqual(['ok', 'ok']);
      await probe.stop();
    },
    60_000,
  );

  it.each(['producer', 'consumer'] as const)(
    '%s side: failing with the reason while nothing listens, then stops',
    async (side) => {
      const { logger } = captureLogger();
      const { health, seen } = recorder();
      const probe = bus(client, '127.0.0.1:1').probe(side, health, logger);
      await waitFor(
        'the first answer',
        () => seen.length > 0,
        30_000,
        () => seen.join(' | '),
      );
      expect(seen).toEqual([expect.stringMatching(/^kafka unreachable: /)]);
      const t0 = Date.now();
      await probe.stop();
      // A request in flight is waited for, bounded by its timeout (5 s at least for librdkafka's connect).
      expect(Date.now() - t0).toBeLessThan(10_000);
    },
    60_000,
  );
});

import type { Logger } from './log.js';

/**
 * SIGTERM / SIGINT: stop cleanly (sources stop, the channel drains to the bus within its
 * timeout, sinks flush, offsets commit) and exit 0. A second signal exits at once: every
 * hop only forgets data after the next hop has it durably, so what is on disk stays
 * consistent and is picked up on the next start.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now; buffered data stays on disk for the next start');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'stopping (send the signal again to exit at once)');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

import type { Logger } from './log.js';

/** What stopOnSignals needs of the process: its signals and its exit (a test gives its own). */
export interface SignalTarget {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
  /** Milliseconds on a monotonic clock (default performance.now). */
  now?(): number;
}

/**
 * A signal this soon after the first is the same stop delivered twice, not a person asking
 * to exit at once: systemd (KillMode=control-group, its default) signals every process of
 * the unit, so a pipeline process started by `node dist/bin/sluice.js` gets the signal itself
 * and again from its launcher (bin/launch.ts; the `sluice` entrypoint execs, no launcher);
 * GNU timeout signals its child and then its whole process group.
 */
export const REPEAT_WINDOW_MS = 1000;

export interface SignalStop {
  /** The pipeline is up: a signal stops it with `stop`; one that came during the start does so now. */
  started(stop: () => Promise<void>): void;
}

/**
 * SIGTERM / SIGINT: stop cleanly (sources stop, the channel drains to the bus within its
 * timeout, sinks flush, offsets commit) and exit 0. A second signal, REPEAT_WINDOW_MS or
 * more after the first, exits at once: every hop only forgets data after the next hop has
 * it durably, so what is on disk stays consistent and is picked up on the next start.
 *
 * Listening starts before the pipeline does: a signal during the start (an orchestrator
 * stopping a container that is still opening its channel) is not Node's default death with
 * exit 143, but a clean stop as soon as there is something to stop.
 */
export function stopOnSignals(logger: Logger, target: SignalTarget = process): SignalStop {
  let stop: (() => Promise<void>) | undefined;
  let signalled = false;
  let firstAt = 0;
  const now = () => (target.now ? target.now() : performance.now());
  const run = () =>
    stop!().then(
      () => target.exit(0),
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'error while stopping');
        target.exit(1);
      },
    );
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      const afterMs = Math.round(now() - firstAt);
      if (afterMs < REPEAT_WINDOW_MS) {
        logger.info({ signal, after_ms: afterMs }, 'signal repeated at once: taken as the same stop');
        return;
      }
      logger.warn({ signal }, 'second signal: exiting now; buffered data stays on disk for the next start');
      target.exit(130);
      return;
    }
    signalled = true;
    firstAt = now();
    logger.info({ signal, starting: stop === undefined }, 'stopping (send the signal again to exit at once)');
    if (stop) void run();
  };
  target.on('SIGINT', onSignal);
  target.on('SIGTERM', onSignal);
  return {
    started(s) {
      stop = s;
      if (signalled) void run();
    },
  };
}

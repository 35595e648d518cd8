import RequestQueue from 'kafkajs/src/network/requestQueue/index.js';

/**
 * kafkajs 2.2.4 spins every connection it has used: once a response arrives, each check of
 * the pending requests schedules the next one, and with nothing pending and no throttle the
 * delay is negative, so a 1 ms timer runs for as long as the connection lives (tulios/kafkajs
 * #1556, #1704; the fixes are unreleased). On a collector the bus probe's connection alone
 * kept an idle process at 3 % of a core, about a thousand wake-ups a second.
 *
 * The check is skipped when it has nothing to do: no request waits, none is scheduled, and
 * the broker does not throttle. A request pushed later, or a response, schedules it again
 * (both call this), so nothing that waits is ever left unchecked.
 */
type Queue = { pending: unknown[]; throttledUntil: number; throttleCheckTimeoutId: unknown };

const proto = RequestQueue.prototype as unknown as { scheduleCheckPendingRequests(this: Queue): void; sluiceIdleFix?: true };
// kafkajs is loaded once per process, this module perhaps more often (a test runner's module registries).
if (!proto.sluiceIdleFix) {
  const schedule = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: Queue): void {
    if (this.pending.length === 0 && !this.throttleCheckTimeoutId && this.throttledUntil <= Date.now()) return;
    schedule.call(this);
  };
  proto.sluiceIdleFix = true;
}

import { type LogEvent, TIME_PARTITION_FIELD } from '../event.js';
import { counter } from '../metrics.js';

/** Events a sink put in the day of their arrival, by sink (`component`). */
export const partitionedByArrival = counter(
  'sluice_events_partitioned_by_arrival_total',
  'events put in the day (index, directory) of their arrival: their own time was beyond max_event_age or max_future',
  ['component'],
);

/**
 * The policy for event times far from now (`max_event_age`, `max_future` of the sinks that
 * partition by day). A backfill of old files or a host with a wrong clock would otherwise
 * put events into daily indices and directories that retention deletes within the hour
 * (a log from 2015 with `retention_days: 7`), or keeps forever (a clock in 2099). Beyond
 * the window, the day (index, directory) is the time of arrival at the sink; the event
 * keeps its own time (`@timestamp`, the JSON line's time) and is marked with
 * `fields["log.time_partition"]`, the arrival time that chose its partition.
 *
 * The arrival time is not stored anywhere upstream, so a redelivery of such an event
 * after midnight lands in the next day's partition (the earlier copy stays where it was):
 * the price of not deleting it at once.
 */
export class TimeWindow {
  /** @param maxAge, maxFuture in ms; 0 turns that side off. */
  constructor(
    readonly maxAge: number,
    readonly maxFuture: number,
  ) {}

  get enabled(): boolean {
    return this.maxAge > 0 || this.maxFuture > 0;
  }

  /** True when `timestamp` is too old or too far ahead at `now`: partition by `now` instead. */
  outside(timestamp: number, now: number): boolean {
    return (this.maxAge > 0 && timestamp < now - this.maxAge) || (this.maxFuture > 0 && timestamp > now + this.maxFuture);
  }
}

/** The event as stored when it was partitioned by its arrival: its own time kept, the arrival time in the mark. */
export function markedPartitionTime(event: LogEvent, arrival: number): LogEvent {
  return { ...event, fields: { ...event.fields, [TIME_PARTITION_FIELD]: new Date(arrival).toISOString() } };
}

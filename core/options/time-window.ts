import { duration } from '../units.js';

/**
 * `max_event_age` and `max_future`, the same two keys in every sink that partitions by the
 * event's day (core/template/time-window.ts says what happens beyond them). Both are off
 * by default: a backfill or a Kafka backlog after an outage goes where its own time says,
 * as before; set them when retention would delete old events at once (e.g.
 * `max_event_age: 7d` with `retention_days: 7`) or wrong clocks must not create future days.
 */
export const timeWindowOptions = {
  max_event_age: duration()
    .default(0)
    .describe(
      'events older than this when they arrive are put in the day of their arrival (index, directory), keeping their own time and marked fields["log.time_partition"] = the arrival time; 0 = off',
    ),
  max_future: duration()
    .default(0)
    .describe('events dated more than this ahead of their arrival are put in the day of their arrival, marked the same way; 0 = off'),
};

import { counter } from '../../core/metrics.js';

/** The Kafka bus's series, the same for both clients (label `component`: the bus's config name). */
export const busMetrics = {
  produced: counter('sluice_bus_produced_events_total', 'Events Kafka acknowledged (acks=all)', ['component', 'client']),
  producedBytes: counter('sluice_bus_produced_bytes_total', 'Encoded event bytes Kafka acknowledged', ['component', 'client']),
  produceFailures: counter('sluice_bus_produce_failures_total', 'Sends that failed and were rolled back into the channel', [
    'component',
    'client',
  ]),
  topicDecisionWriteFailures: counter(
    'sluice_bus_topic_decision_write_failures_total',
    'Writes of topic_max_distinct decisions to the data directory that failed (the sends go on; a later send writes them)',
    ['component'],
  ),
  consumed: counter('sluice_bus_consumed_events_total', 'Events decoded from Kafka and delivered to the router', ['component', 'client']),
  consumedBytes: counter('sluice_bus_consumed_bytes_total', 'Record value bytes consumed', ['component', 'client']),
  undecodable: counter('sluice_bus_undecodable_records_total', 'Records that did not decode and went to the dead-letter', [
    'component',
    'client',
  ]),
  commitFailures: counter(
    'sluice_bus_commit_failures_total',
    'Offset commits that failed (the records are read again: duplicates, never loss)',
    ['component', 'client'],
  ),
};

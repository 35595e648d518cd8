import { embeddedBusSpec } from '../core/bus/embedded-spec.js';
import { Registry } from '../core/registry.js';
import { consoleSinkSpec } from '../sinks/console/console-sink.js';

/**
 * Every component type Sluice knows: the ones built, and the ones designed but not built
 * yet, which the validator rejects as "not available yet" rather than "unknown".
 */
export function createRegistry(): Registry {
  return new Registry()
    .register(embeddedBusSpec)
    .register(consoleSinkSpec)
    .plan({ kind: 'source', type: 'file', description: 'tails log files' })
    .plan({ kind: 'source', type: 'docker', description: 'container logs (Docker json-file, CRI)' })
    .plan({ kind: 'source', type: 'demo', description: 'generates realistic demo logs' })
    .plan({ kind: 'transform', type: 'fields', description: 'adds, renames and removes fields' })
    .plan({ kind: 'transform', type: 'parse', description: 'parses JSON, logfmt or regex captures into fields' })
    .plan({ kind: 'channel', type: 'disk', description: 'disk-buffered channel' })
    .plan({ kind: 'channel', type: 'memory', description: 'bounded in-memory channel' })
    .plan({ kind: 'bus', type: 'kafka', description: 'Kafka producer (agent) and consumer group (collector)' })
    .plan({ kind: 'sink', type: 'file', description: 'file tree routed by service, module and day' })
    .plan({ kind: 'sink', type: 'webhdfs', description: 'HDFS over WebHDFS' })
    .plan({ kind: 'sink', type: 'elasticsearch', description: 'Elasticsearch bulk indexing' });
}

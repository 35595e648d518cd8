import { diskChannelSpec } from '../agent/channel/disk/index.js';
import { memoryChannelSpec } from '../agent/channel/memory/index.js';
import { demoSourceSpec } from '../agent/sources/demo/demo-source.js';
import { dockerSourceSpec } from '../agent/sources/docker/index.js';
import { fileSourceSpec } from '../agent/sources/file/index.js';
import { embeddedBusSpec } from '../bus/embedded/index.js';
import { kafkaBusSpec } from '../bus/kafka/index.js';
import { Registry } from '../core/registry.js';
import { consoleSinkSpec } from '../sinks/console/console-sink.js';
import { elasticsearchSinkSpec } from '../sinks/elasticsearch/es-sink.js';
import { fileSinkSpec } from '../sinks/file/index.js';
import { transformSpecs } from '../transforms/index.js';

/**
 * Every component type Sluice knows: the ones built, and the ones designed but not built
 * yet, which the validator rejects as "not available yet" rather than "unknown".
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  for (const spec of transformSpecs) registry.register(spec);
  return registry
    .register(embeddedBusSpec)
    .register(kafkaBusSpec)
    .register(consoleSinkSpec)
    .register(diskChannelSpec)
    .register(memoryChannelSpec)
    .register(fileSourceSpec)
    .register(dockerSourceSpec)
    .register(demoSourceSpec)
    .register(fileSinkSpec)
    .register(elasticsearchSinkSpec)
    .plan({ kind: 'sink', type: 'webhdfs', description: 'HDFS over WebHDFS' });
}

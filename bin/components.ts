import { diskChannelSpec } from '../agent/channel/disk/index.js';
import { memoryChannelSpec } from '../agent/channel/memory/index.js';
import { demoSourceSpec } from '../agent/sources/demo/demo-source.js';
import { dockerSourceSpec } from '../agent/sources/docker/index.js';
import { fileSourceSpec } from '../agent/sources/file/index.js';
import { embeddedBusSpec } from '../bus/embedded/index.js';
import { kafkaBusSpec } from '../bus/kafka/index.js';
import { deadLettersOf, type PipelineConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import { lazySpec, Registry } from '../core/registry.js';
import { fileDeadLetterSpec } from '../dead-letter/file/index.js';
import { kafkaDeadLetterSpec } from '../dead-letter/kafka/index.js';
import { consoleSinkSpec } from '../sinks/console/console-sink.js';
import { elasticsearchSinkOptions } from '../sinks/elasticsearch/options.js';
import { fileSinkSpec } from '../sinks/file/index.js';
import { webhdfsSinkSpec } from '../sinks/webhdfs/index.js';
import { transformSpecs } from '../transforms/index.js';

/**
 * Every component type Sluice knows: the ones built, and the ones designed but not built
 * yet, which the validator rejects as "not available yet" rather than "unknown".
 *
 * A type whose implementation pulls in a large library is registered with lazySpec: only
 * its options schema is loaded here, the rest when a config uses it (loadComponents). The
 * Elasticsearch client alone is about 30 MiB of RSS that a sidecar agent never needs.
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
    .register(
      lazySpec(
        {
          kind: 'sink',
          type: 'elasticsearch',
          description: 'bulk-indexes events into Elasticsearch (daily indices or a data stream; _id = event id)',
          options: elasticsearchSinkOptions,
          sharedAcrossProcesses: true,
        },
        async () => (await import('../sinks/elasticsearch/es-sink.js')).elasticsearchSinkSpec,
      ),
    )
    .register(webhdfsSinkSpec)
    .register(fileDeadLetterSpec)
    .register(kafkaDeadLetterSpec);
}

/** Imports the implementations of the components `role` builds from `config` (see lazySpec). */
export async function loadComponents(config: PipelineConfig, role: Role): Promise<void> {
  const agentSide = role === 'agent' || role === 'run';
  const collectorSide = role === 'collector' || role === 'run';
  const used = [
    ...(agentSide ? [...config.sources, ...(config.channel ? [config.channel] : [])] : []),
    ...(collectorSide ? config.sinks : []),
    ...(role !== 'run' && config.bus ? [config.bus] : []),
    ...config.transforms,
    ...deadLettersOf(config, role),
  ];
  await Promise.all(used.map((c) => c.spec.load?.()));
}

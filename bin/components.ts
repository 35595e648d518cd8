import { KafkaProducer } from '../agent/bus/kafka/producer.js';
import { KafkaConsumer } from '../collector/bus/kafka/consumer.js';
import type { DeadLetter } from '../collector/dead-letter/dead-letter.js';
import { embeddedBusSpec } from '../core/bus/embedded-spec.js';
import { kafkaBusOptions, kafkaClientConfig, type KafkaBusOptions } from '../core/bus/kafka-options.js';
import type { Bus, ComponentContext } from '../core/pipeline.js';
import { Registry, type ComponentSpec } from '../core/registry.js';
import { diskChannelSpec } from '../agent/channel/disk/index.js';
import { memoryChannelSpec } from '../agent/channel/memory/index.js';
import { fileSourceSpec } from '../agent/sources/file/index.js';
import { dockerSourceSpec } from '../agent/sources/docker/index.js';
import { demoSourceSpec } from '../agent/sources/demo/index.js';
import { consoleSinkSpec } from '../sinks/console/console-sink.js';
import { fileSinkSpec } from '../sinks/file/index.js';
import { elasticsearchSinkSpec } from '../sinks/elasticsearch/es-sink.js';
import { webhdfsSinkSpec } from '../sinks/webhdfs/index.js';
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
    .register(webhdfsSinkSpec);
}

/**
 * `bus: {type: kafka}`: the agent's producer and the collector's consumer group over the
 * same options. Joined here because agent/ and collector/ never import each other.
 */
export class KafkaBus implements Bus {
  constructor(
    readonly options: KafkaBusOptions,
    private readonly ctx: ComponentContext,
  ) {
    // Reads the TLS files now: a missing one stops the command before "sluice started",
    // as one line (the consumer builds its client only in its background loop).
    kafkaClientConfig(options, ctx.logger);
  }

  producer(): KafkaProducer {
    return new KafkaProducer(this.options, this.ctx.logger.child({ side: 'producer' }), this.ctx.name);
  }

  /** The consumer writes records that do not decode to `deadLetter` before committing past them. */
  consumer(deadLetter?: DeadLetter): KafkaConsumer {
    return new KafkaConsumer(this.options, this.ctx.logger.child({ side: 'consumer' }), deadLetter, this.ctx.name);
  }
}

export const kafkaBusSpec: ComponentSpec<KafkaBusOptions, Bus> = {
  kind: 'bus',
  type: 'kafka',
  description: 'Kafka: producer on the agent (acks=all, idempotent), consumer group on the collector',
  options: kafkaBusOptions,
  create: (options, ctx) => new KafkaBus(options, ctx),
};

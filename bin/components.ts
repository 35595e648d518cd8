import { KafkaProducer } from '../agent/bus/kafka/producer.js';
import { KafkaConsumer } from '../collector/bus/kafka/consumer.js';
import type { DeadLetter } from '../collector/dead-letter/dead-letter.js';
import { embeddedBusSpec } from '../core/bus/embedded-spec.js';
import { kafkaBusOptions, type KafkaBusOptions } from '../core/bus/kafka-options.js';
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

/**
 * Every component type Sluice knows: the ones built, and the ones designed but not built
 * yet, which the validator rejects as "not available yet" rather than "unknown".
 */
export function createRegistry(): Registry {
  return new Registry()
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
    .register(webhdfsSinkSpec)
    .plan({ kind: 'transform', type: 'fields', description: 'adds, renames and removes fields' })
    .plan({ kind: 'transform', type: 'parse', description: 'parses JSON, logfmt or regex captures into fields' });
}

/**
 * `bus: {type: kafka}`: the agent's producer and the collector's consumer group over the
 * same options. Joined here because agent/ and collector/ never import each other.
 */
export class KafkaBus implements Bus {
  constructor(
    readonly options: KafkaBusOptions,
    private readonly ctx: ComponentContext,
  ) {}

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

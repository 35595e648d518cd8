import type { Logger } from '../../core/log.js';
import { loadTls } from '../../core/options/tls.js';
import type {
  Bus,
  BusConsumer,
  BusConsumerOptions,
  BusHealth,
  BusProducer,
  BusProducerOptions,
  BusRecordWriter,
  ComponentContext,
} from '../../core/pipeline.js';
import { batchHeapBytes, type ComponentSpec } from '../../core/registry.js';
import { formatCount } from '../../core/unit-text.js';
import {
  type ClientSetup,
  DeferredConsumer,
  DeferredProducer,
  DeferredRecordWriter,
  type KafkaClient,
  type KafkaClientName,
  chooseClient,
  SENDS_IN_FLIGHT,
} from './client.js';
import { type KafkaBusOptions, kafkaBusOptions } from './options.js';
import { OVERFLOWED_REMEMBERED, rememberedTopicsBytes } from './topic-names.js';

/**
 * `bus: {type: kafka}`: the agent's producer and the collector's consumer group over one
 * options block, on the client library chosen by `client:`. TLS files are read and the
 * client chosen when the bus is built, so a missing CA file or a missing librdkafka is a
 * one-line error before anything starts.
 */
export class KafkaBus implements Bus {
  readonly client: KafkaClientName;
  private readonly setup: ClientSetup;
  private module: Promise<KafkaClient> | undefined;

  constructor(
    readonly options: KafkaBusOptions,
    ctx: Pick<ComponentContext, 'name' | 'logger'> & Partial<Pick<ComponentContext, 'dataDir'>>,
  ) {
    const tls = options.tls ? loadTls(options.tls, ctx.name) : undefined;
    this.client = chooseClient(options.client, ctx.name, ctx.logger);
    if (this.client === 'librdkafka' && options.tls?.server_name)
      throw new Error(
        `${ctx.name}: tls.server_name is not supported by client librdkafka (it verifies each broker's own host name); remove it or use client: kafkajs`,
      );
    this.setup = { options, tls, logger: ctx.logger, component: ctx.name, dataDir: ctx.dataDir };
  }

  producer(options: BusProducerOptions = {}): BusProducer {
    const { batch } = this.options.producer;
    const setup = { ...this.setup, logger: this.setup.logger.child({ side: 'producer' }) };
    return new DeferredProducer({ maxEvents: batch.max_events, timeoutMs: batch.timeout }, SENDS_IN_FLIGHT[this.client], async () =>
      (await this.load()).producer(setup, options.refused),
    );
  }

  consumer(options: BusConsumerOptions = {}): BusConsumer {
    const setup = { ...this.setup, logger: this.setup.logger.child({ side: 'consumer' }) };
    return new DeferredConsumer(async () => (await this.load()).consumer(setup, options.undecodable));
  }

  recordWriter(topic: string): BusRecordWriter {
    const setup = { ...this.setup, logger: this.setup.logger.child({ side: 'record-writer', topic }) };
    return new DeferredRecordWriter(async () => (await this.load()).recordWriter(setup, topic));
  }

  /**
   * Reachability (and, for a consumer, the group's lag and backlog progress) for the api's
   * readiness and the logs: a metadata request every 5 s on a connection of its own. On
   * kafkajs (bus/kafka/probe.ts) but for a producer on librdkafka (librdkafka/probe.ts),
   * so that an agent loads one client; on an agent loaded only when an api runs.
   */
  probe(side: 'producer' | 'consumer', health: BusHealth, logger: Logger): { stop(): Promise<void> } {
    const started =
      side === 'producer' && this.client === 'librdkafka'
        ? import('./librdkafka/probe.js').then((m) => m.startProducerProbe(this.setup, health, logger))
        : import('./probe.js').then((m) => m.startBusProbe(this.setup, health, logger, side));
    return { stop: async () => (await started).stop() };
  }

  private load(): Promise<KafkaClient> {
    this.module ??=
      this.client === 'librdkafka'
        ? import('./librdkafka/index.js').then((m) => m.librdkafkaClient)
        : import('./kafkajs/index.js').then((m) => m.kafkajsClient);
    return this.module;
  }
}

const MOST_SENDS = Math.max(...Object.values(SENDS_IN_FLIGHT));

export const kafkaBusSpec: ComponentSpec<'bus', KafkaBusOptions, KafkaBus> = {
  kind: 'bus',
  type: 'kafka',
  description: 'Kafka: producer on the agent (acks=all, idempotent), consumer group on the collector; librdkafka or kafkajs',
  options: kafkaBusOptions,
  memory: (o) => [
    // The forwarder's transactions in flight (the sends the client takes at once, and the
    // next one taken), and the client's copies of the ones being sent (its queue, bounded in
    // messages: librdkafka/config.ts). The client may still be `auto`: the larger count.
    {
      what: `producer.batch.max_events (${MOST_SENDS} sends in flight + the next + the client queue)`,
      bytes: (2 * MOST_SENDS + 1) * batchHeapBytes(o.producer.batch.max_events),
      half: 'agent',
    },
    // The topic combinations decided, kept for good (topic-names.ts); none for a fixed topic.
    ...[rememberedTopicsBytes(o.topic, o.topic_max_distinct)]
      .filter((bytes) => bytes > 0)
      .map((bytes) => ({
        what: `topic_max_distinct (${o.topic_max_distinct} admitted + ${formatCount(OVERFLOWED_REMEMBERED)} overflowed topic names)`,
        bytes,
        half: 'agent' as const,
      })),
    // A fetch response, and the decoded batches of the partitions in flight.
    {
      what: 'consumer.max_bytes, max_bytes_per_partition x partitions_concurrently',
      bytes:
        o.consumer.max_bytes +
        batchHeapBytes(
          Math.ceil((o.consumer.max_bytes_per_partition * o.consumer.partitions_concurrently) / 260),
          o.consumer.max_bytes_per_partition * o.consumer.partitions_concurrently,
        ),
      half: 'collector',
    },
  ],
  create: (options, ctx) => new KafkaBus(options, ctx),
};

import { createRequire } from 'node:module';
import { LIBRDKAFKA_NATIVE_LAYER } from '../client.js';
import { loadAddon } from './addon/load.js';
import { AddonConsumer } from './addon/native-consumer.js';
import { AddonProducer } from './addon/native-producer.js';

import type { Config, NativeError, NativeModule, NativeProducer } from './native-api.js';

export type {
  NativeError,
  TopicPartition,
  TopicPartitionOffset,
  NativeMessage,
  DeliveryReport,
  Metadata,
  Config,
  NativeProducer,
  NativeConsumer,
  NativeAdmin,
  NativeLog,
  NativeModule,
} from './native-api.js';

/** librdkafka's error codes the bus acts on (rdkafka.h). */
export const ERR = {
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  ALL_BROKERS_DOWN: -187,
  TRANSPORT: -195,
  TIMED_OUT: -185,
  UNKNOWN_TOPIC: -188,
  UNKNOWN_TOPIC_OR_PART: 3,
  UNKNOWN_PARTITION: -190,
  TOPIC_ALREADY_EXISTS: 36,
} as const;

/** A broker unreachable (one, or all): what the "kafka down" / "kafka back" lines report. */
export function isOutage(err: NativeError): boolean {
  return err.code === ERR.ALL_BROKERS_DOWN || err.code === ERR.TRANSPORT;
}

let binding: NativeModule | undefined;
let loaded: NativeModule | undefined;

/** The binding as it is: its own Producer (what `bench bus` measures the bus against). */
export function loadBinding(): NativeModule {
  binding ??= createRequire(import.meta.url)(LIBRDKAFKA_NATIVE_LAYER) as NativeModule;
  return binding;
}

/**
 * The client the bus runs on: Sluice's own addon (addon/), which carries records, delivery
 * reports and consumed rounds across without the binding's per-record objects; a producer's
 * admin (topic creation) is its own connection. The binding is loaded first: the addon links
 * against the librdkafka it built.
 */
export function loadNative(): NativeModule {
  if (loaded) return loaded;
  const native = loadBinding();
  const addon = loadAddon(loadBinding);
  loaded = {
    Producer: class extends AddonProducer {
      constructor(config: Config) {
        super(addon, config);
      }
    },
    KafkaConsumer: class extends AddonConsumer {
      constructor(config: Config) {
        super(addon, config);
      }
    },
    AdminClient: { createFrom: (client) => (client as AddonProducer).admin() },
    librdkafkaVersion: native.librdkafkaVersion,
  };
  return loaded;
}

/**
 * After a failed connect: a producer retried with a new client while the brokers are down
 * would otherwise leak one per attempt. The addon's producer is still running (its poller
 * thread and librdkafka's threads, which keep it from being collected): this destroys it.
 */
export function releaseFailedConnect(producer: NativeProducer): void {
  try {
    producer.disconnect(() => undefined);
  } catch {
    // Already released.
  }
}

/** "Local: Broker transport failure (code -195)" rather than librdkafka's bare message. */
export function describeNativeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Partial<NativeError>).code;
    return code === undefined ? err.message : `${err.message} (code ${code})`;
  }
  return String(err);
}

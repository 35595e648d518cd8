import type { DeadLetter } from '../../core/dead-letter.js';
import { lazySpec, type ComponentSpec } from '../../core/registry.js';
import { fileDeadLetterMemory } from '../file/memory.js';
import { kafkaDeadLetterOptions, type KafkaDeadLetterOptions } from './options.js';

export { kafkaDeadLetterOptions, type KafkaDeadLetterOptions } from './options.js';

/** The collector's dead-letter on a topic; the agent's stays a file (what Kafka refused cannot go to Kafka). */
export const kafkaDeadLetterSpec: ComponentSpec<'dead_letter', KafkaDeadLetterOptions, DeadLetter> = lazySpec(
  {
    kind: 'dead_letter',
    type: 'kafka',
    description: "a topic on the kafka bus's brokers (acks=all, idempotent), through the bus's own client",
    options: kafkaDeadLetterOptions,
    // Every worker of a collector produces to the same topic, and keeps what the topic refuses in a file of its own.
    sharedAcrossProcesses: true,
    // The file for what the topic refuses remembers the entries it holds, as a file dead-letter does.
    memory: () => fileDeadLetterMemory().map((u) => ({ ...u, what: `refused_path: ${u.what}` })),
  },
  async () => (await import('./kafka-dead-letter.js')).kafkaDeadLetterCreate,
);

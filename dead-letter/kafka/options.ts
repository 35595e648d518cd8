import { z } from 'zod';
import { agentPathOption } from '../options.js';

export const kafkaDeadLetterOptions = z
  .strictObject({
    topic: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_" and "-", at most 249')
      .default('sluice-dead-letter')
      .describe('The topic, on the brokers of the kafka bus (its TLS and SASL too)'),
    agent_path: agentPathOption,
  })
  .describe("A topic on the kafka bus's brokers (acks=all, idempotent)");

export type KafkaDeadLetterOptions = z.infer<typeof kafkaDeadLetterOptions>;

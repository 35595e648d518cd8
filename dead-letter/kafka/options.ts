import { z } from 'zod';
import { agentPathOption } from '../options.js';

export const kafkaDeadLetterOptions = z
  .strictObject({
    topic: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_" and "-", at most 249')
      .default('sluice-dead-letter')
      .describe('The topic, on the brokers of the kafka bus (its TLS and SASL too)'),
    refused_path: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The collector's JSON-lines file for entries the topic refused for good, such as one over its max.message.bytes (default: DATA_DIR/dead-letter/refused.jsonl)",
      ),
    agent_path: agentPathOption,
  })
  .describe("A topic on the kafka bus's brokers (acks=all, idempotent)");

export type KafkaDeadLetterOptions = z.infer<typeof kafkaDeadLetterOptions>;

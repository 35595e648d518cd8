import { z } from 'zod';

/**
 * The option both types share: the agent's own dead-letter. What Kafka refused for good
 * cannot go to Kafka, so whatever the collector's type, an agent keeps its refused events
 * in a file (a `file` dead-letter of its own, built by the runtime from this path).
 */
export const agentPathOption = z
  .string()
  .min(1)
  .optional()
  .describe("The agent's own JSON-lines file, for events Kafka refused for good (default: DATA_DIR/dead-letter/agent.jsonl)");

import { z } from 'zod';
import { agentPathOption } from '../options.js';

export const fileDeadLetterOptions = z
  .strictObject({
    path: z.string().min(1).optional().describe('The JSON-lines file (default: DATA_DIR/dead-letter/dead-letter.jsonl)'),
    agent_path: agentPathOption,
  })
  .describe('JSON lines on local disk, fsync per write, written once per entry');

export type FileDeadLetterOptions = z.infer<typeof fileDeadLetterOptions>;

import { z } from 'zod';
import { byteSize } from '../core/units.js';
import { DEFAULT_MEMORY_LIMIT, formatMiB, MIN_MEMORY_LIMIT } from './memory-budget.js';

/** `memory_limit:`, the top-level option (config/memory-budget.ts says what it sizes). */
export const memoryLimitOption = byteSize()
  .pipe(
    z.number().min(MIN_MEMORY_LIMIT, {
      error: (iss) => `must be at least ${formatMiB(MIN_MEMORY_LIMIT)} (Node alone takes about 45MiB), got ${formatMiB(Number(iss.input))}`,
    }),
  )
  .optional()
  .describe(
    `Memory budget of the process: Node's heap is sized from it, and the buffers and batches the components hold must fit in it (checked at start). Default: agent and run ${formatMiB(DEFAULT_MEMORY_LIMIT.agent)}, collector ${formatMiB(DEFAULT_MEMORY_LIMIT.collector)} per process`,
  );

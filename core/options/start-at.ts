import { z } from 'zod';

/**
 * Where a reader with no saved position starts: `beginning` (everything already there) or
 * `end` (only what comes next). One name for the file source and the Kafka consumer; a saved
 * position (checkpoint, committed offset) always wins over it.
 */
export const startAt = (fallback: 'beginning' | 'end') =>
  z.enum(['beginning', 'end']).default(fallback).describe('Where to start when there is no saved position: beginning or end');

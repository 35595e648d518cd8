import type { MemoryUse } from '../../core/registry.js';
import { formatCount } from '../../core/unit-text.js';

/** How much of the file's end is read at open to learn what it already holds. */
export const REMEMBER_BYTES = 16 * 1024 * 1024;
/** The newest entries whose keys are remembered, so a replayed batch is not dead-lettered twice. */
export const REMEMBER_KEYS = 200_000;
/** One remembered key in the heap: a 22-character string and its slot in a Set (measured: 65 bytes). */
const KEY_BYTES = 64;

/**
 * The remembered keys, once the dead-letter has seen that many entries. The tail read at
 * open (up to 16 MiB) is let go before any event flows: the agent and the collector open
 * their dead-letter before their sources or their consumer start.
 */
export function fileDeadLetterMemory(): MemoryUse[] {
  return [{ what: `remembered entries (${formatCount(REMEMBER_KEYS)} keys)`, bytes: REMEMBER_KEYS * KEY_BYTES }];
}

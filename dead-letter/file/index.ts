import type { DeadLetter } from '../../core/dead-letter.js';
import { lazySpec, type ComponentSpec } from '../../core/registry.js';
import { fileDeadLetterMemory } from './memory.js';
import { fileDeadLetterOptions, type FileDeadLetterOptions } from './options.js';

export { fileDeadLetterOptions, type FileDeadLetterOptions } from './options.js';

/**
 * Registered lazily like every dead-letter type: `sluice validate` needs the options alone,
 * and a process imports the writer only when it runs a half that has a dead-letter.
 */
export const fileDeadLetterSpec: ComponentSpec<'dead_letter', FileDeadLetterOptions, DeadLetter> = lazySpec(
  {
    kind: 'dead_letter',
    type: 'file',
    description: 'JSON lines in a local file, fsync per write; an entry replayed after a crash is not written twice',
    options: fileDeadLetterOptions,
    memory: fileDeadLetterMemory,
  },
  async () => (await import('./file-dead-letter.js')).fileDeadLetterCreate,
);

import { batchHeapBytes, type ComponentSpec, constructs, lazySpec } from '../../../core/registry.js';
import { PathTemplate } from './path-template.js';
import { fileSourceOptions, type FileSourceOptions } from './options.js';
import type { FileSource } from './source.js';

export { fileSourceOptions, type FileSourceOptions, type FileSourceInput } from './options.js';

/** Lazy (core/registry.ts): a collector validates this type but never imports the tailer. */
export const fileSourceSpec: ComponentSpec<'source', FileSourceOptions, FileSource> = lazySpec(
  {
    kind: 'source',
    type: 'file',
    description: 'Tails log files matched by globs; survives rotation, truncation and restarts without loss or duplicates',
    options: fileSourceOptions,
    // One batch being filled while the previous one is put into the channel.
    memory: (o) => [
      { what: 'read_buffer_bytes', bytes: o.read_buffer_bytes },
      { what: 'batch (2 in flight)', bytes: 2 * batchHeapBytes(o.batch.max_events, o.batch.max_bytes) },
    ],
    fieldsSet: (o) => [
      ...Object.keys(o.fields),
      ...(o.path_pattern ? new PathTemplate(o.path_pattern).names.filter((n) => n !== 'service' && n !== 'module') : []),
      'log.truncated',
      'log.split',
      'log.time_invalid',
    ],
  },
  constructs(async () => (await import('./source.js')).FileSource),
);

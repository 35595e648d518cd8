import type { ComponentSpec } from '../../../core/registry.js';
import { PathTemplate } from './path-template.js';
import { fileSourceOptions, type FileSourceOptions } from './options.js';
import { FileSource } from './source.js';

export { FileSource } from './source.js';
export { fileSourceOptions, type FileSourceOptions, type FileSourceInput } from './options.js';

export const fileSourceSpec: ComponentSpec<'source', FileSourceOptions, FileSource> = {
  kind: 'source',
  type: 'file',
  description: 'Tails log files matched by globs; survives rotation, truncation and restarts without loss or duplicates',
  options: fileSourceOptions,
  create: (options, ctx) => new FileSource(options, ctx),
  fieldsSet: (o) => [
    ...Object.keys(o.fields),
    ...(o.path_pattern ? new PathTemplate(o.path_pattern).names.filter((n) => n !== 'service' && n !== 'module') : []),
    'log.truncated',
    'log.split',
    'log.time_invalid',
  ],
};

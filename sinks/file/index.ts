import type { Sink } from '../../core/pipeline.js';
import { type ComponentSpec, constructs, lazySpec } from '../../core/registry.js';
import { fileSinkOptions, type FileSinkOptions } from './options.js';

export type { FileSinkContext } from './file-sink.js';
export { fileSinkOptions, type FileSinkOptions, type FileSinkInput } from './options.js';

/** Lazy (core/registry.ts): an agent validates this type but never imports the sink. */
export const fileSinkSpec: ComponentSpec<'sink', FileSinkOptions, Sink> = lazySpec(
  {
    kind: 'sink',
    type: 'file',
    description:
      'file tree routed by service, module and day: in-progress files renamed when rolled (size, age, idle), fsync per batch, gzip, retention',
    options: fileSinkOptions,
  },
  constructs(async () => (await import('./file-sink.js')).FileSink),
);

import type { Sink } from '../../core/pipeline.js';
import type { ComponentSpec } from '../../core/registry.js';
import { FileSink } from './file-sink.js';
import { fileSinkOptions, type FileSinkOptions } from './options.js';

export { FileSink, type FileSinkContext } from './file-sink.js';
export { fileSinkOptions, type FileSinkOptions, type FileSinkInput } from './options.js';

export const fileSinkSpec: ComponentSpec<'sink', FileSinkOptions, Sink> = {
  kind: 'sink',
  type: 'file',
  description:
    'file tree routed by service, module and day: in-progress files renamed when rolled (size, age, idle), fsync per batch, gzip, retention',
  options: fileSinkOptions,
  create: (options, ctx) => new FileSink(options, ctx),
};

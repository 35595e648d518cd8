import type { Sink } from '../../core/pipeline.js';
import type { ComponentSpec } from '../../core/registry.js';
import { webhdfsSinkOptions, type WebHdfsSinkOptions } from './options.js';
import { WebHdfsSink } from './webhdfs-sink.js';

export { WebHdfsSink, type WebHdfsSinkContext } from './webhdfs-sink.js';
export { webhdfsSinkOptions, type WebHdfsSinkInput, type WebHdfsSinkOptions } from './options.js';

export const webhdfsSinkSpec: ComponentSpec<'sink', WebHdfsSinkOptions, Sink> = {
  kind: 'sink',
  type: 'webhdfs',
  description:
    'HDFS over WebHDFS: the file tree routed by service, module and day, exactly-once, in-progress files renamed when rolled, NameNode failover',
  options: webhdfsSinkOptions,
  create: (options, ctx) => new WebHdfsSink(options, ctx),
};

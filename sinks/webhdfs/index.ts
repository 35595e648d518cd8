import type { Sink } from '../../core/pipeline.js';
import { type ComponentSpec, constructs, lazySpec } from '../../core/registry.js';
import { webhdfsSinkOptions, type WebHdfsSinkOptions } from './options.js';

export type { WebHdfsSinkContext } from './webhdfs-sink.js';
export { webhdfsSinkOptions, type WebHdfsSinkInput, type WebHdfsSinkOptions } from './options.js';

/** Lazy (core/registry.ts): an agent validates this type but never imports the sink. */
export const webhdfsSinkSpec: ComponentSpec<'sink', WebHdfsSinkOptions, Sink> = lazySpec(
  {
    kind: 'sink',
    type: 'webhdfs',
    description:
      'HDFS over WebHDFS: the file tree routed by service, module and day, exactly-once, in-progress files renamed when rolled, NameNode failover',
    options: webhdfsSinkOptions,
  },
  constructs(async () => (await import('./webhdfs-sink.js')).WebHdfsSink),
);

import { type ComponentSpec, constructs, lazySpec } from '../../../core/registry.js';
import { dockerSourceOptions, type DockerSourceOptions } from './options.js';
import type { DockerSource } from './source.js';

export { dockerSourceOptions, type DockerSourceOptions, type DockerSourceInput } from './options.js';

/** Lazy (core/registry.ts): only a process that tails container logs imports the source. */
export const dockerSourceSpec: ComponentSpec<'source', DockerSourceOptions, DockerSource> = lazySpec(
  {
    kind: 'source',
    type: 'docker',
    description:
      'Container logs (Docker json-file, CRI / Kubernetes): split lines reassembled, container metadata, rotation and restarts without loss',
    options: dockerSourceOptions,
    // What metadata.ts (describe) and the decoder set (long_lines cannot split here); container.labels is an object, so
    // `fields.container.labels.team` counts as set.
    fieldsSet: (o) => [
      ...Object.keys(o.fields),
      'container.id',
      'container.name',
      'container.image',
      'container.labels',
      'kubernetes.namespace',
      'kubernetes.pod',
      'kubernetes.pod_uid',
      'kubernetes.container',
      'log.malformed',
      'log.truncated',
    ],
  },
  constructs(async () => (await import('./source.js')).DockerSource),
);

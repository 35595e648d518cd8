import type { ComponentSpec } from '../../../core/registry.js';
import { dockerSourceOptions, type DockerSourceOptions } from './options.js';
import { DockerSource } from './source.js';

export { DockerSource } from './source.js';
export { dockerSourceOptions, type DockerSourceOptions, type DockerSourceInput } from './options.js';

export const dockerSourceSpec: ComponentSpec<'source', DockerSourceOptions, DockerSource> = {
  kind: 'source',
  type: 'docker',
  description:
    'Container logs (Docker json-file, CRI / Kubernetes): split lines reassembled, container metadata, rotation and restarts without loss',
  options: dockerSourceOptions,
  create: (options, ctx) => new DockerSource(options, ctx),
};

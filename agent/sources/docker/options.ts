import { z } from 'zod';
import { globOption, pattern, TAILING_RENAMES, tailingShape } from '../file/options.js';

/**
 * Options of the `docker` source. The tailing options (positions, rotation, batching,
 * multiline, event size) are the file source's own schema pieces, with defaults for where
 * Docker and the kubelet write; container logs are UTF-8, so there is no `encoding`.
 */
const regexList = (what: string) =>
  z.array(pattern('the expression')).default([]).describe(`Regular expressions matched against the container's ${what}`);
const labelList = (what: string) => z.array(z.string().min(1)).default([]).describe(`Labels ("key" or "key=value") ${what}`);

export const DEFAULT_INCLUDE = [
  '/var/lib/docker/containers/*/*-json.log',
  '/var/lib/docker/containers/*/*-json.log.[0-9]*',
  '/var/log/pods/*/*/*.log',
  '/var/log/pods/*/*/*.log.[0-9]*',
];

export const dockerSourceOptions = z
  .strictObject({
    ...tailingShape,
    // Records are reassembled into messages: a message over max_event_bytes is cut or
    // skipped; splitting one would give two events of the same record offset.
    long_lines: z
      .enum(['truncate', 'skip'])
      .default('truncate')
      .describe('What happens to a message (or joined event) longer than max_event_bytes: truncate (keep the head) or skip; both counted'),
    include: z
      .array(globOption())
      .min(1)
      .default(DEFAULT_INCLUDE)
      .describe(
        'Glob patterns of container log files: Docker json-file (<root>/containers/<id>/<id>-json.log) and CRI (/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log), rotated names included',
      ),
    exclude: z.array(globOption()).default(['/**/*.gz']).describe('Glob patterns of paths never tailed (compressed rotations)'),
    service: z.string().min(1).optional().describe('Service of every event; default: from service_labels, else the container name'),
    module: z.string().min(1).optional().describe('Module of every event; default: from module_labels, else the container name'),
    service_labels: z
      .array(z.string().min(1))
      .default(['sluice.service', 'com.docker.compose.service', 'app.kubernetes.io/name'])
      .describe('Container labels giving the service, first present wins'),
    module_labels: z
      .array(z.string().min(1))
      .default(['sluice.module', 'app.kubernetes.io/component'])
      .describe('Container labels giving the module, first present wins'),
    fields: z.record(z.string(), z.string()).default({}).describe('Static fields added to every event'),
    include_names: regexList('name (Kubernetes: the container name in the pod); empty = every container'),
    exclude_names: regexList('name; a match is not read'),
    include_images: regexList('image; empty = every image (Kubernetes paths have no image: they never match)'),
    exclude_images: regexList('image; a match is not read'),
    include_labels: labelList('of which a container needs one to be read; empty = every container'),
    exclude_labels: labelList('of which one excludes a container'),
  })
  .meta({ renamed: { ...TAILING_RENAMES, max_message_bytes: 'max_event_bytes (one bound for messages and joined events)' } });

export type DockerSourceOptions = z.output<typeof dockerSourceOptions>;
export type DockerSourceInput = z.input<typeof dockerSourceOptions>;

import { resolve } from 'node:path';
import { z } from 'zod';
import { byteSize } from '../../../core/units.js';
import { fileSourceOptions } from '../file/options.js';

/**
 * Options of the `docker` source. The tailing options (positions, rotation, batching,
 * multiline) are the file source's, with defaults for where Docker and the kubelet write.
 */
const pathPattern = () =>
  z
    .string()
    .min(1)
    .transform((p) => resolve(p));
const regexList = (what: string) =>
  z.array(z.string().min(1)).default([]).describe(`Regular expressions matched against the container's ${what}`);
const labelList = (what: string) => z.array(z.string().min(1)).default([]).describe(`Labels ("key" or "key=value") ${what}`);

const tailing = fileSourceOptions.pick({
  start_at: true,
  multiline: true,
  max_line_bytes: true,
  partial_line_timeout: true,
  fingerprint_bytes: true,
  read_buffer_bytes: true,
  batch_max_events: true,
  batch_max_bytes: true,
  max_open_files: true,
  idle_close: true,
  poll_interval: true,
  rescan_interval: true,
  rotate_wait: true,
  forget_after: true,
  checkpoint_interval: true,
  watch: true,
});

export const DEFAULT_INCLUDE = [
  '/var/lib/docker/containers/*/*-json.log',
  '/var/lib/docker/containers/*/*-json.log.[0-9]*',
  '/var/log/pods/*/*/*.log',
  '/var/log/pods/*/*/*.log.[0-9]*',
];

export const dockerSourceOptions = tailing.extend({
  include: z
    .array(pathPattern())
    .min(1)
    .default(DEFAULT_INCLUDE)
    .describe(
      'Glob patterns of container log files: Docker json-file (<root>/containers/<id>/<id>-json.log) and CRI (/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log), rotated names included',
    ),
  exclude: z.array(pathPattern()).default(['/**/*.gz']).describe('Glob patterns of paths never tailed (compressed rotations)'),
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
  max_message_bytes: byteSize()
    .pipe(
      z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024),
    )
    .default(1024 * 1024)
    .describe('Longest message reassembled from split records (16 KiB pieces); the rest is dropped and the event marked log.truncated'),
});

export type DockerSourceOptions = z.output<typeof dockerSourceOptions>;
export type DockerSourceInput = z.input<typeof dockerSourceOptions>;

import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FieldValue } from '../../../core/event.js';
import { headBytes } from '../../../core/template.js';
import type { FileDescription } from '../file/format.js';
import type { DockerSourceOptions } from './options.js';

/**
 * What a container log file says about its container: Docker keeps the container's
 * config beside its log (<root>/containers/<id>/config.v2.json: Name, Config.Image,
 * Config.Labels); the kubelet puts namespace, pod and container in the path
 * (/var/log/pods/<namespace>_<pod>_<uid>/<container>/N.log) and nothing beside it.
 */
export interface ContainerInfo {
  id?: string;
  name?: string;
  image?: string;
  labels: Record<string, string>;
  kubernetes?: { namespace: string; pod: string; uid: string; container: string };
}

const DOCKER_LOG = /^([0-9a-f]{12,128})-json\.log(?:\.\d+)?$/;
const POD_DIR = /^([^_]+)_(.+)_([^_]+)$/;

/** Reads a file's container info; `problem` reports a config file that cannot be used (the file is still read). */
export async function containerInfo(path: string, problem: (file: string, reason: string) => void): Promise<ContainerInfo> {
  const m = DOCKER_LOG.exec(basename(path));
  if (m && basename(dirname(path)) === m[1]) return dockerInfo(m[1]!, join(dirname(path), 'config.v2.json'), problem);
  const container = basename(dirname(path));
  const pod = POD_DIR.exec(basename(dirname(dirname(path))));
  if (pod) {
    return { name: container, labels: {}, kubernetes: { namespace: pod[1]!, pod: pod[2]!, uid: pod[3]!, container } };
  }
  return { labels: {} };
}

async function dockerInfo(id: string, config: string, problem: (file: string, reason: string) => void): Promise<ContainerInfo> {
  const info: ContainerInfo = { id, labels: {} };
  let text: string;
  try {
    text = await readFile(config, 'utf8');
  } catch (err) {
    problem(config, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return info;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    problem(config, `is not valid JSON (${(err as Error).message})`);
    return info;
  }
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as { Name?: unknown; Config?: { Image?: unknown; Labels?: unknown } };
  if (typeof d.Name === 'string') info.name = d.Name.replace(/^\//, '');
  const c = typeof d.Config === 'object' && d.Config !== null ? d.Config : {};
  if (typeof c.Image === 'string') info.image = c.Image;
  if (typeof c.Labels === 'object' && c.Labels !== null) {
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') info.labels[k] = v;
  }
  if (info.name === undefined) problem(config, 'has no "Name"');
  return info;
}

/** Include / exclude by name, image and label, and service / module / fields of the events. */
export class ContainerRules {
  private readonly includeNames: RegExp[];
  private readonly excludeNames: RegExp[];
  private readonly includeImages: RegExp[];
  private readonly excludeImages: RegExp[];

  constructor(
    private readonly o: DockerSourceOptions,
    private readonly sourceName: string,
    where: string,
  ) {
    const compile = (list: string[], key: string) =>
      list.map((p) => {
        try {
          return new RegExp(p);
        } catch (err) {
          throw new Error(`${where}: ${key} "${p}" is not a valid regular expression: ${(err as Error).message}`);
        }
      });
    this.includeNames = compile(o.include_names, 'include_names');
    this.excludeNames = compile(o.exclude_names, 'exclude_names');
    this.includeImages = compile(o.include_images, 'include_images');
    this.excludeImages = compile(o.exclude_images, 'exclude_images');
  }

  wanted(c: ContainerInfo): boolean {
    const o = this.o;
    // Names and images come from whoever starts a container: patterns see a bounded head.
    const any = (res: RegExp[], v: string | undefined) => v !== undefined && res.some((r) => r.test(headBytes(v, o.max_match_bytes)));
    const label = (l: string) => {
      const eq = l.indexOf('=');
      return eq < 0 ? l in c.labels : c.labels[l.slice(0, eq)] === l.slice(eq + 1);
    };
    if (this.includeNames.length > 0 && !any(this.includeNames, c.name)) return false;
    if (this.includeImages.length > 0 && !any(this.includeImages, c.image)) return false;
    if (o.include_labels.length > 0 && !o.include_labels.some(label)) return false;
    return !any(this.excludeNames, c.name) && !any(this.excludeImages, c.image) && !o.exclude_labels.some(label);
  }

  describe(c: ContainerInfo): FileDescription {
    const o = this.o;
    const fromLabels = (keys: string[]) => keys.map((k) => c.labels[k]).find((v) => v !== undefined && v !== '');
    const fallback = c.name ?? c.id?.slice(0, 12) ?? this.sourceName;
    const fields: Record<string, FieldValue> = { ...o.fields };
    if (c.id !== undefined) fields['container.id'] = c.id;
    if (c.name !== undefined) fields['container.name'] = c.name;
    if (c.image !== undefined) fields['container.image'] = c.image;
    if (Object.keys(c.labels).length > 0) fields['container.labels'] = { ...c.labels };
    if (c.kubernetes) {
      fields['kubernetes.namespace'] = c.kubernetes.namespace;
      fields['kubernetes.pod'] = c.kubernetes.pod;
      fields['kubernetes.pod_uid'] = c.kubernetes.uid;
      fields['kubernetes.container'] = c.kubernetes.container;
    }
    const k = c.kubernetes;
    return {
      service: o.service ?? fromLabels(o.service_labels) ?? fallback,
      module: o.module ?? fromLabels(o.module_labels) ?? fallback,
      fields,
      container: c.id ?? (k ? `${k.namespace}/${k.pod}/${k.container}` : undefined),
    };
  }
}

/** Container info per directory, read again when the config file changes (a rename, new labels on recreate). */
export class ContainerInfoCache {
  private readonly cache = new Map<string, { mtime: number; info: ContainerInfo }>();

  constructor(private readonly problem: (file: string, reason: string) => void) {}

  async get(path: string): Promise<ContainerInfo> {
    const dir = dirname(path);
    const mtime = (await stat(join(dir, 'config.v2.json')).catch(() => undefined))?.mtimeMs ?? -1;
    const hit = this.cache.get(dir);
    if (hit && hit.mtime === mtime) return hit.info;
    const info = await containerInfo(path, this.problem);
    this.cache.set(dir, { mtime, info });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return info;
  }
}

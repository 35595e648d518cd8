import type { ComponentConfig, PipelineConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import type { ComponentKind } from '../core/registry.js';

/**
 * What a reload would change, worked out from the running config and the new one before
 * anything is touched. Only what the role runs is compared (a collector ignores its file's
 * sources). What can change in a running process is listed in `changes` and applied by
 * the runtime; what cannot is listed in `restartNeeded`, and then nothing is applied.
 */
export interface ReloadPlan {
  changes: string[];
  restartNeeded: string[];
  sources: ComponentDiff<'source'>;
  sinks: ComponentDiff<'sink'>;
  /** The transforms the role runs: rebuilt when any was added, removed, changed or moved. */
  transforms: ComponentDiff<'transform'> & { any: boolean };
  routes: boolean;
  logLevel: boolean;
}

export interface ComponentDiff<K extends ComponentKind = ComponentKind> {
  added: ComponentConfig<K>[];
  removed: string[];
  /** Same name, other type or options: the new config. */
  changed: ComponentConfig<K>[];
}

export function planReload(current: PipelineConfig, next: PipelineConfig, role: Role): ReloadPlan {
  const agentSide = role === 'agent' || role === 'run';
  const collectorSide = role === 'collector' || role === 'run';
  const changes: string[] = [];
  const restartNeeded: string[] = [];
  const needsRestart = (what: string, why: string) => restartNeeded.push(`${what}: ${why}; restart Sluice to apply it`);

  if (current.dataDir !== next.dataDir)
    needsRestart('data_dir', `changed from ${current.dataDir} to ${next.dataDir}, where every component keeps its state`);
  if (!same(current.api, next.api)) needsRestart('api', 'the api server listens with the settings it started with');
  if (!same(current.shutdown, next.shutdown)) needsRestart('shutdown', 'the drain timeout is fixed when the pipeline starts');
  if (current.memoryLimit !== next.memoryLimit)
    needsRestart(
      'memory_limit',
      "the heap's limits are fixed when the process starts (its components are checked against the limit it runs with)",
    );

  if (agentSide) {
    const from = current.channel;
    const to = next.channel;
    if (!sameComponent(from, to)) {
      const dirFrom = channelDir(from);
      const dirTo = channelDir(to);
      needsRestart(
        'channel',
        from?.type !== to?.type
          ? `type ${from?.type ?? 'none'} → ${to?.type ?? 'none'}: the channel holds the buffered events`
          : dirFrom !== dirTo
            ? `its directory ${dirFrom ?? '(default)'} → ${dirTo ?? '(default)'}: the buffered events are in the old one`
            : 'its options changed: the channel holds the buffered events and is not rebuilt in a running process',
      );
    }
  }
  if (role !== 'run' && !sameComponent(current.bus, next.bus)) {
    const groupFrom = consumerGroup(current.bus);
    const groupTo = consumerGroup(next.bus);
    needsRestart(
      'bus',
      role === 'collector' && groupFrom !== groupTo
        ? `consumer group ${groupFrom} → ${groupTo}: the committed offsets belong to the group; a running collector does not change groups`
        : 'the connection to Kafka is set up when the pipeline starts',
    );
  }
  if (collectorSide && !sameComponent(current.deadLetter, next.deadLetter))
    needsRestart('dead_letter', 'the bus consumer holds the dead-letter it started with');
  else if (role === 'agent' && !sameComponent(current.agentDeadLetter, next.agentDeadLetter))
    needsRestart('dead_letter', 'the bus producer holds the dead-letter it started with');

  const sources = agentSide ? diff(current.sources, next.sources) : { added: [], removed: [], changed: [] };
  const sinks = collectorSide ? diff(current.sinks, next.sinks) : { added: [], removed: [], changed: [] };
  for (const c of sinks.added) {
    const twin = current.sinks.find((old) => sinks.removed.includes(old.name) && sameComponent(old, c));
    // The removed sink closes only once the batches routed to it are written, and the added
    // one would open on the same destination meanwhile (a file sink finishes the in-progress
    // files it finds on open: the other's).
    if (twin)
      needsRestart(
        `sinks.${c.name}`,
        `sinks.${twin.name} renamed, with the same options: two sinks would write to one destination while the batches routed to the old name finish`,
      );
  }
  // Each file's transforms all run in the role that runs it (a transform placed at a half
  // the role has not is a config error), so the whole section is compared.
  const transforms = { ...diff(current.transforms, next.transforms), any: !sameList(current.transforms, next.transforms) };
  describe(changes, 'sources', sources);
  describe(changes, 'transforms', transforms);
  const moved = transforms.added.length + transforms.removed.length + transforms.changed.length === 0;
  if (transforms.any && moved) changes.push(`transforms reordered: ${next.transforms.map((t) => t.name).join(', ')}`);
  describe(changes, 'sinks', sinks);
  const routes = collectorSide && !same(current.routes ?? null, next.routes ?? null);
  if (routes) changes.push('routes changed');
  const logLevel = current.log.level !== next.log.level;
  if (logLevel) changes.push(`log.level ${current.log.level} → ${next.log.level}`);
  return { changes, restartNeeded, sources, sinks, transforms, routes, logLevel };
}

function describe(out: string[], section: string, d: ComponentDiff): void {
  for (const c of d.added) out.push(`${section}.${c.name} added (${c.type})`);
  for (const name of d.removed) out.push(`${section}.${name} removed`);
  for (const c of d.changed) out.push(`${section}.${c.name} changed`);
}

function diff<K extends ComponentKind>(from: ComponentConfig<K>[], to: ComponentConfig<K>[]): ComponentDiff<K> {
  const before = new Map(from.map((c) => [c.name, c]));
  const after = new Map(to.map((c) => [c.name, c]));
  return {
    added: to.filter((c) => !before.has(c.name)),
    removed: from.filter((c) => !after.has(c.name)).map((c) => c.name),
    changed: to.filter((c) => before.has(c.name) && !sameComponent(before.get(c.name), c)),
  };
}

function channelDir(c: ComponentConfig | undefined): string | undefined {
  return (c?.options as { path?: string } | undefined)?.path;
}

function consumerGroup(c: ComponentConfig | undefined): string | undefined {
  return (c?.options as { consumer?: { group_id?: string } } | undefined)?.consumer?.group_id;
}

function sameComponent(a: ComponentConfig | undefined, b: ComponentConfig | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.type === b.type && same(a.options, b.options);
}

function sameList(a: ComponentConfig[], b: ComponentConfig[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]!.name && sameComponent(c, b[i]));
}

/** Structural equality of validated options (plain data, regular expressions, dates). */
export function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_key, value: unknown) => {
    if (value instanceof RegExp) return `/${value.source}/${value.flags}`;
    if (value instanceof Map) return Object.fromEntries([...value.entries()].sort());
    if (value instanceof Set) return [...value].sort();
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date))
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
    if (typeof value === 'function') return `function ${value.toString()}`;
    return value;
  });
}

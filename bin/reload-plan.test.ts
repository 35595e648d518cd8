import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { createRegistry } from './components.js';
import { planReload, same } from './reload-plan.js';

const registry = createRegistry();
const config = (lines: string[]) => parseConfig(lines.join('\n'), 'p.yaml', registry, {});

const base = [
  'data_dir: /tmp/sluice-plan',
  'sources:',
  '  app: { type: file, include: ["/var/log/app/*.log"] }',
  'channel: { type: disk, max_bytes: 64MiB }',
  'bus: { type: kafka, brokers: ["k:9092"], topic: logs, consumer: { group_id: g1 } }',
  'sinks:',
  '  out: { type: console }',
  '  files: { type: file, root: /tmp/out, path: "{service}.log" }',
];

describe('reload plan', () => {
  it('nothing changed: no changes, nothing needs a restart', () => {
    expect(planReload(config(base), config(base), 'run')).toMatchObject({ changes: [], restartNeeded: [] });
  });

  it('lists sources and sinks added, removed and changed, routes and the log level', () => {
    const next = config([
      'data_dir: /tmp/sluice-plan',
      'log: { level: debug }',
      'sources:',
      '  app: { type: file, include: ["/var/log/app/*.log", "/var/log/other/*.log"] }',
      '  web: { type: file, include: ["/var/log/web/*.log"] }',
      'channel: { type: disk, max_bytes: 64MiB }',
      'bus: { type: kafka, brokers: ["k:9092"], topic: logs, consumer: { group_id: g1 } }',
      'sinks:',
      '  out: { type: console, encoding: json }',
      'routes: { default: [out] }',
    ]);
    const plan = planReload(config(base), next, 'run');
    expect(plan.restartNeeded).toEqual([]);
    expect(plan.changes).toEqual([
      'sources.web added (file)',
      'sources.app changed',
      'sinks.files removed',
      'sinks.out changed',
      'routes changed',
      'log.level info → debug',
    ]);
    expect(plan.sources.added.map((c) => c.name)).toEqual(['web']);
    expect(plan.sinks.removed).toEqual(['files']);
  });

  it('a collector ignores its file’s sources; an agent its sinks', () => {
    const next = config(
      base.map((l) => l.replace('/var/log/app/*.log', '/elsewhere/*.log').replace('type: console', 'type: console, encoding: json')),
    );
    expect(planReload(config(base), next, 'collector').changes).toEqual(['sinks.out changed']);
    expect(planReload(config(base), next, 'agent').changes).toEqual(['sources.app changed']);
  });

  it('applies transforms added, removed, changed and reordered, on either half', () => {
    const withTransforms = (t: string[]) => config([...base, 'transforms:', ...t]);
    const before = withTransforms([
      '  hide: { type: redact }',
      '  tidy: { type: fields, add: { env: prod } }',
      '  quiet: { type: filter, min_level: info }',
    ]);
    const after = withTransforms([
      '  tidy: { type: fields, add: { env: staging } }',
      '  quiet: { type: filter, min_level: info }',
      '  json: { type: parse, format: json }',
    ]);
    for (const role of ['agent', 'collector', 'run'] as const) {
      const plan = planReload(before, after, role);
      expect(plan.restartNeeded).toEqual([]);
      expect(plan.changes).toEqual(['transforms.json added (parse)', 'transforms.hide removed', 'transforms.tidy changed']);
      expect(plan.transforms).toMatchObject({ any: true, removed: ['hide'] });
    }
    const reordered = withTransforms([
      '  quiet: { type: filter, min_level: info }',
      '  hide: { type: redact }',
      '  tidy: { type: fields, add: { env: prod } }',
    ]);
    expect(planReload(before, reordered, 'agent').changes).toEqual(['transforms reordered: quiet, hide, tidy']);
    expect(planReload(before, before, 'agent')).toMatchObject({ changes: [], transforms: { any: false } });
  });

  it('refuses what a running process cannot change, saying why and that a restart applies it', () => {
    const moved = config(
      base.map((l) => l.replace('max_bytes: 64MiB', 'max_bytes: 64MiB, path: /data/channel').replace('group_id: g1', 'group_id: g2')),
    );
    expect(planReload(config(base), moved, 'agent').restartNeeded).toEqual([
      'channel: its directory (default) → /data/channel: the buffered events are in the old one; restart Sluice to apply it',
      'bus: the connection to Kafka is set up when the pipeline starts; restart Sluice to apply it',
    ]);
    expect(planReload(config(base), moved, 'collector').restartNeeded).toEqual([
      'bus: consumer group g1 → g2: the committed offsets belong to the group; a running collector does not change groups; restart Sluice to apply it',
    ]);
    const elsewhere = config(base.map((l) => l.replace('/tmp/sluice-plan', '/tmp/other')));
    expect(planReload(config(base), elsewhere, 'run').restartNeeded).toEqual([
      'data_dir: changed from /tmp/sluice-plan to /tmp/other, where every component keeps its state; restart Sluice to apply it',
    ]);
    // The heap was sized at launch: a larger limit would let components in that it cannot hold.
    const bigger = config(['memory_limit: 2GiB', ...base]);
    expect(planReload(config(base), bigger, 'agent').restartNeeded).toEqual([
      "memory_limit: the heap's limits are fixed when the process starts (its components are checked against the limit it runs with); restart Sluice to apply it",
    ]);
  });

  it('refuses a sink renamed with the same options: both would write to one destination for a while', () => {
    const renamed = config(base.map((l) => l.replace('  files: {', '  archive: {')));
    expect(planReload(config(base), renamed, 'collector').restartNeeded).toEqual([
      'sinks.archive: sinks.files renamed, with the same options: two sinks would write to one destination while the batches routed to the old name finish; restart Sluice to apply it',
    ]);
  });

  it('compares options structurally, regular expressions included', () => {
    expect(same({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(same({ re: /a+/ }, { re: /a+/ })).toBe(true);
    expect(same({ re: /a+/ }, { re: /b+/ })).toBe(false);
  });
});

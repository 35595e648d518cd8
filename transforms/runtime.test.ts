import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../bin/components.js';
import { startPipeline } from '../bin/start.js';
import { parseConfig } from '../config/load.js';
import { silentLogger } from '../core/log.js';
import { metrics } from '../core/metrics.js';
import { makeEvent, tempDir, waitFor } from '../test/support/index.js';
import { LiveTransforms } from './runtime.js';

const tmp = await tempDir('transforms-run');
afterAll(() => tmp.cleanup());

/** Every JSON line the file sink wrote under root, finished or in progress. */
function written(root: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else for (const line of readFileSync(path, 'utf8').split('\n')) if (line) out.push(JSON.parse(line));
    }
  };
  walk(root);
  return out;
}

describe('transforms in a running pipeline', () => {
  it('runs agent-side transforms before the channel and collector-side ones before routing', async () => {
    const logs = join(tmp.dir, 'logs');
    const root = join(tmp.dir, 'out');
    mkdirSync(logs);
    writeFileSync(
      join(logs, 'app.log'),
      [
        '{"level":"warn","msg":"slow","user":"bob@example.com"}',
        'GET /healthz 200',
        '2024-03-01 12:00:00,123 ERROR [main] c.a.App - boom',
        'a line with no level',
        '',
      ].join('\n'),
    );
    const yaml = `data_dir: ${join(tmp.dir, 'state')}
sources:
  app: {type: file, include: ["${logs}/*.log"], service: app}
channel: {type: memory}
transforms:
  json: {type: parse, format: json, when: {message: "{*"}}
  health: {type: filter, drop: {message: "*healthz*"}}
  hide: {type: redact}
  stamp: {type: fields, at: collector, set: {side: collector, was: "{fields.user}"}}
sinks:
  out: {type: file, root: "${root}", encoding: json}
`;
    const config = parseConfig(yaml, join(tmp.dir, 'p.yaml'), createRegistry(), {});
    const running = await startPipeline(config, 'run', silentLogger(), { reload: async () => config, version: 'test' });
    try {
      await waitFor(
        '3 events written',
        () => written(root).length >= 3,
        20_000,
        () => JSON.stringify(written(root)),
      );
    } finally {
      await running.stop();
    }
    const events = written(root).map((e) => ({ message: e.message, level: e.level, fields: e.fields }));
    expect(events).toEqual([
      {
        message: '{"level":"warn","msg":"slow","user":"[REDACTED:email]"}',
        level: 'warn',
        fields: { level: 'warn', msg: 'slow', user: '[REDACTED:email]', side: 'collector', was: '[REDACTED:email]' },
      },
      { message: '2024-03-01 12:00:00,123 ERROR [main] c.a.App - boom', level: 'error', fields: { side: 'collector', was: 'unknown' } },
      { message: 'a line with no level', level: undefined, fields: { side: 'collector', was: 'unknown' } },
    ]);
  });
});

describe('LiveTransforms: chains a reload replaces', () => {
  const section = (name: string, transforms: string[]) =>
    parseConfig(
      `sources:\n  app: {type: file, include: ["/tmp/x/*.log"]}\nchannel: {type: memory}\nsinks:\n  out: {type: console}\ntransforms:\n${transforms.join('\n')}\n`,
      join(tmp.dir, `${name}.yaml`),
      createRegistry(),
      {},
    ).transforms;
  const one = (message: string) => [makeEvent({ message, fields: { user: 'bob@example.com' } })];

  it('swaps between batches, keeps the state of unchanged transforms, rebuilds changed ones and forgets removed ones', async () => {
    const first = section('v1', [
      '  cap: {type: throttle, threshold: 2, window: 1h, key: "{service}"}',
      '  hide: {type: redact, detectors: [email]}',
      '  tag: {type: fields, set: {version: "1"}}',
    ]);
    const live = new LiveTransforms(first, 'run', silentLogger(), 'h');
    const v1 = live.applyAgent(one('mail bob@example.com'));
    expect(v1.map((e) => [e.message, e.fields])).toEqual([['mail [REDACTED:email]', { user: '[REDACTED:email]', version: '1' }]]);
    expect(await series('transforms.tag')).toBeGreaterThan(0);

    const second = section('v2', [
      '  cap: {type: throttle, threshold: 2, window: 1h, key: "{service}"}',
      '  hide: {type: redact, detectors: [email], mode: hash, hash_key: "0123456789abcdef0123"}',
      '  stamp: {type: fields, set: {version: "2"}}',
    ]);
    const prepared = live.prepare(second, new Set(['hide', 'stamp']));
    // Built, not applied yet: the running chain is the old one.
    expect(live.applyAgent(one('x'))[0]!.fields.version).toBe('1');
    await prepared.commit();
    // The throttle kept its budget across the reload: 2 per hour, both used.
    expect(live.applyAgent(one('mail bob@example.com'))).toEqual([]);
    expect(await series('transforms.tag')).toBe(0);
  });

  it('applies a changed transform to the next batch, on the half its `at` names', async () => {
    const live = new LiveTransforms(section('a', ['  tag: {type: fields, set: {version: "1"}}']), 'run', silentLogger(), 'h');
    const prepared = live.prepare(section('b', ['  tag: {type: fields, set: {version: "2"}, remove: [user]}']), new Set(['tag']));
    await prepared.commit();
    expect(live.applyAgent(one('m'))[0]!.fields).toEqual({ version: '2' });
    expect(live.applyCollector(one('m'))[0]!.fields).toEqual({ user: 'bob@example.com' });
    const moved = section('c', ['  tag: {type: fields, at: collector, set: {version: "3"}}']);
    await live.prepare(moved, new Set(['tag'])).commit();
    expect(live.applyAgent(one('m'))[0]!.fields).toEqual({ user: 'bob@example.com' });
    expect(live.applyCollector(one('m'))[0]!.fields).toEqual({ user: 'bob@example.com', version: '3' });
  });
});

async function series(component: string): Promise<number> {
  const text = await metrics.metrics();
  return text.split('\n').filter((l) => l.startsWith('sluice_transform_') && l.includes(`component="${component}"`)).length;
}

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../bin/components.js';
import { startPipeline } from '../bin/start.js';
import { parseConfig } from '../config/load.js';
import { silentLogger } from '../core/log.js';
import { tempDir, waitFor } from '../test/support/index.js';

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

// `sluice search` (the built CLI, dist/bin/sluice.js) against documents the Elasticsearch
// sink wrote to the real node: filters by service, level, time and text; lines in time
// order; --json; --follow; -c reading the sink's settings; a clear error when the node is
// unreachable.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { ElasticsearchSink } from '../../sinks/elasticsearch/es-sink.js';
import { dropIndices } from '../support/elasticsearch.js';
import { waitFor } from '../support/index.js';
import { elasticsearchSinkOptions } from '../../sinks/elasticsearch/options.js';

const url = inject('elasticsearchUrl');
const cli = join(process.cwd(), 'dist/bin/sluice.js');
const prefix = `sluice-int-search-${randomUUID().slice(0, 8)}`;
const indexTemplate = `${prefix}-{service}-%Y.%m.%d`;
const dir = mkdtempSync(join(tmpdir(), 'sluice-es-search-'));
const admin = new Client({ node: url });
const now = Date.now();
const MIN = 60_000;

const sink = new ElasticsearchSink(elasticsearchSinkOptions.parse({ url, index: indexTemplate, template: { name: prefix, replicas: 0 } }), {
  name: 'search-test',
  logger: silentLogger(),
});

function ev(id: string, minutesAgo: number, service: string, level: string, message: string, offset = 0): LogEvent {
  return {
    id,
    timestamp: now - minutesAgo * MIN,
    message,
    service,
    module: 'api',
    host: 'web-1',
    source: { kind: 'file', path: '/log', offset },
    level,
    fields: {},
  };
}

const line = (e: LogEvent) => `${new Date(e.timestamp).toISOString()} web-1 ${e.service}/api ${e.level!.toUpperCase()} ${e.message}`;

const events = [
  ev('a', 120, 'checkout', 'info', 'order 1 placed'),
  ev('b', 50, 'checkout', 'error', 'payment declined for order 2'),
  ev('c', 10, 'checkout', 'info', 'order 3 placed'),
  ev('d', 5, 'search', 'ERROR', 'index timeout: shard [3] unavailable'),
  // Same millisecond as c: the file offset keeps them in file order.
  { ...ev('e', 10, 'checkout', 'warn', 'order 3 slow', 200) },
];

function search(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, 'search', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter(Boolean) };
}

const at = ['--url', url, '--index', `${prefix}-*`];

beforeAll(async () => {
  await sink.open();
  await sink.write(events);
  await admin.indices.refresh({ index: `${prefix}-*` });
});

afterAll(async () => {
  await sink.close();
  await dropIndices(admin, prefix);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice search (built CLI, real node)', () => {
  it('prints every match in time order, file order within the same millisecond', () => {
    const r = search(at);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([events[0], events[1], events[2], events[4], events[3]].map((e) => line(e!)));
  });

  it('filters by service and level (any case), by time and by free text', () => {
    expect(search([...at, '--service', 'checkout', '--level', 'error']).lines).toEqual([line(events[1]!)]);
    expect(search([...at, '--level', 'error']).lines).toEqual([line(events[1]!), line(events[3]!)]);
    expect(search([...at, '--since', '15m']).lines).toEqual([events[2], events[4], events[3]].map((e) => line(e!)));
    const from = new Date(now - 60 * MIN).toISOString();
    const to = new Date(now - 8 * MIN).toISOString();
    expect(search([...at, '--from', from, '--to', to, '-s', 'checkout']).lines).toEqual(
      [events[1], events[2], events[4]].map((e) => line(e!)),
    );
    expect(search([...at, 'order', 'placed']).lines).toEqual([line(events[0]!), line(events[2]!)]);
    // Odd characters in the text never make a query error.
    expect(search([...at, 'shard', '[3]']).lines).toEqual([line(events[3]!)]);
    expect(search([...at, '--service', 'nope']).lines).toEqual([]);
  });

  it('--limit keeps the newest matches, still printed oldest first; --json prints whole documents', () => {
    expect(search([...at, '-n', '2']).lines).toEqual([line(events[4]!), line(events[3]!)]);
    const docs = search([...at, '--json', '-s', 'search']).lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs).toEqual([
      expect.objectContaining({
        _id: 'd',
        _index: `${prefix}-search-${new Date(now - 5 * MIN).toISOString().slice(0, 10).replace(/-/g, '.')}`,
        event_id: 'd',
        service: 'search',
        level: 'ERROR',
        message: 'index timeout: shard [3] unavailable',
      }),
    ]);
  });

  it("-c takes URL and index pattern from the config's elasticsearch sink", () => {
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, `sinks:\n  es:\n    type: elasticsearch\n    url: ${url}\n    index: "${indexTemplate}"\n`);
    const r = search(['-c', file, '--level', 'warn']);
    expect(r.stderr).toBe('');
    expect(r.lines).toEqual([line(events[4]!)]);
  });

  it('--follow prints new matches as they are indexed', async () => {
    const child = spawn(process.execPath, [cli, 'search', ...at, '--follow', '--interval', '200ms', '-s', 'follow'], {
      env: { PATH: process.env.PATH },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const first = ev('f1', 0, 'follow', 'info', 'first followed line');
      const second = ev('f2', 0, 'follow', 'info', 'second followed line', 10);
      await sink.write([first]);
      await admin.indices.refresh({ index: `${prefix}-*` });
      await waitFor('the first followed line', () => out.includes('first followed line'), 30_000);
      await sink.write([second, first]);
      await admin.indices.refresh({ index: `${prefix}-*` });
      await waitFor('the second followed line', () => out.includes('second followed line'), 30_000);
      // A replay of "first" was overwritten in place: it is not printed again.
      expect(out.trimEnd().split('\n')).toEqual([line(first), line(second)]);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });

  it('an unreachable node is one clear line on stderr and exit code 1', () => {
    const r = search(['--url', 'http://user:s3cret@127.0.0.1:1', '--service', 'x']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sluice search: cannot reach Elasticsearch at http:\/\/127\.0\.0\.1:1: .+\n$/);
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('bad arguments are a usage error (exit code 2)', () => {
    const r = search([...at, '--since', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'sluice search: --since: expected a time such as "15m" (ago), "2024-05-01T12:00:00Z" or "now", got "yesterday"\n',
    );
  });
});

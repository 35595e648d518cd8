// The ECS and OpenTelemetry shapes (schema: ecs | otel) in the real Elasticsearch: the index
// template maps them, documents land where the schema says, and `sluice search` (the built
// CLI) finds them by service, module, level, host and text through their mapped fields.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { tempDir } from '../../test/support/index.js';
import type { Schema } from '../schema/schema.js';
import { ElasticsearchSink } from './es-sink.js';
import { elasticsearchSinkOptions } from './options.js';

const url = inject('elasticsearchUrl');
const cli = join(process.cwd(), 'dist/bin/sluice.js');
const admin = new Client({ node: url });
const tmp = await tempDir('es-schema');
const T = Date.UTC(2024, 4, 1, 12);
const cleanup: string[] = [];

afterAll(async () => {
  for (const prefix of cleanup) {
    const rows = await admin.cat.indices({ index: `${prefix}-*`, format: 'json', h: ['index'] });
    for (const r of rows) await admin.indices.delete({ index: r.index! });
    await admin.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
  }
  await admin.close();
  await tmp.cleanup();
});

function events(): LogEvent[] {
  const base = {
    service: 'shop',
    host: 'web-7',
    source: { kind: 'docker', path: '/var/log/pods/shop/app/0.log', offset: 0, stream: 'stdout' },
  };
  const k8s = {
    'container.id': 'c0ffee',
    'container.name': 'app',
    'container.image': 'shop:1.2',
    'kubernetes.namespace': 'prod',
    'kubernetes.pod': 'shop-7d9f',
    'kubernetes.pod_uid': 'uid-1',
    'kubernetes.container': 'app',
  };
  return [
    { ...base, id: 'a', timestamp: T, module: 'api', level: 'info', message: 'order 1 placed', fields: { ...k8s, team: 'checkout' } },
    {
      ...base,
      id: 'b',
      timestamp: T + 1,
      module: 'api',
      level: 'error',
      message: 'payment declined for order 2',
      fields: { ...k8s, team: 'payments' },
    },
    { ...base, id: 'c', timestamp: T + 2, module: 'worker', level: 'error', message: 'payment retry failed', fields: { team: 'payments' } },
  ];
}

async function indexed(schema: Schema): Promise<string> {
  const prefix = `sluice-int-${schema}-${randomUUID().slice(0, 8)}`;
  cleanup.push(prefix);
  const sink = new ElasticsearchSink(
    elasticsearchSinkOptions.parse({ url, schema, index: `${prefix}-{service}-%Y.%m.%d`, template: { name: prefix, replicas: 0 } }),
    { name: `schema-${schema}`, logger: silentLogger() },
  );
  await sink.open();
  await sink.write(events());
  await sink.close();
  await admin.indices.refresh({ index: `${prefix}-*` });
  return prefix;
}

function search(prefix: string, args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'search', '--url', url, '--index', `${prefix}-*`, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr, lines: r.stdout.split('\n').filter(Boolean) };
}

const count = async (prefix: string, query: Record<string, unknown>) => (await admin.count({ index: `${prefix}-*`, query })).count;

describe.each(['ecs', 'otel'] as const)('schema %s', (schema) => {
  let prefix = '';

  it('is mapped by the index template and found by sluice search through its fields', async () => {
    prefix = await indexed(schema);
    const r = search(prefix, ['--service', 'shop', '--module', 'api', '--level', 'error', '--host', 'web-7', 'declined']);
    expect(r.stderr).toBe('');
    expect(r.lines).toEqual([`${new Date(T + 1).toISOString()} web-7 shop/api ERROR payment declined for order 2`]);
    expect(search(prefix, ['--level', 'ERROR']).lines).toHaveLength(2);
    expect(search(prefix, ['--module', 'worker']).lines).toEqual([
      `${new Date(T + 2).toISOString()} web-7 shop/worker ERROR payment retry failed`,
    ]);
  });

  it('keeps each value where the schema says', async () => {
    const got = (await admin.search<Record<string, unknown>>({ index: `${prefix}-*`, query: { ids: { values: ['b'] } } })).hits.hits[0]!;
    const mapping = Object.values(await admin.indices.getMapping({ index: `${prefix}-*` }))[0]!.mappings;
    if (schema === 'ecs') {
      expect(got._source).toEqual({
        '@timestamp': new Date(T + 1).toISOString(),
        message: 'payment declined for order 2',
        ecs: { version: '8.11.0' },
        event: { id: 'b', dataset: 'shop.api', module: 'api' },
        service: { name: 'shop' },
        host: { name: 'web-7' },
        log: { level: 'error', file: { path: '/var/log/pods/shop/app/0.log' }, offset: 0 },
        input: { type: 'docker' },
        stream: 'stdout',
        container: { id: 'c0ffee', name: 'app', image: { name: 'shop:1.2' } },
        kubernetes: { namespace: 'prod', pod: { name: 'shop-7d9f', uid: 'uid-1' }, container: { name: 'app' } },
        labels: { team: 'payments' },
      });
      expect(mapping.properties?.log).toMatchObject({ properties: { level: { type: 'keyword' } } });
      expect(await count(prefix, { term: { 'kubernetes.pod.name': 'shop-7d9f' } })).toBe(2);
      expect(await count(prefix, { term: { 'labels.team': 'payments' } })).toBe(2);
      expect(await count(prefix, { term: { 'event.dataset': 'shop.worker' } })).toBe(1);
    } else {
      expect(got._source).toEqual({
        '@timestamp': new Date(T + 1).toISOString(),
        body: { text: 'payment declined for order 2' },
        severity_text: 'ERROR',
        severity_number: 17,
        attributes: {
          team: 'payments',
          'log.record.uid': 'b',
          'sluice.module': 'api',
          'log.file.path': '/var/log/pods/shop/app/0.log',
          'log.iostream': 'stdout',
        },
        resource: {
          attributes: {
            'service.name': 'shop',
            'host.name': 'web-7',
            'container.id': 'c0ffee',
            'container.name': 'app',
            'container.image.name': 'shop:1.2',
            'k8s.namespace.name': 'prod',
            'k8s.pod.name': 'shop-7d9f',
            'k8s.pod.uid': 'uid-1',
            'k8s.container.name': 'app',
          },
        },
        scope: { name: 'sluice' },
      });
      expect(mapping.properties?.severity_text).toEqual({ type: 'keyword', ignore_above: 1024 });
      expect(await count(prefix, { term: { 'resource.attributes.k8s.pod.name': 'shop-7d9f' } })).toBe(2);
      expect(await count(prefix, { term: { 'attributes.team': 'payments' } })).toBe(2);
      expect(await count(prefix, { range: { severity_number: { gte: 17 } } })).toBe(2);
    }
  });
});

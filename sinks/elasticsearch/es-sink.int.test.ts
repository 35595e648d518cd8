// The Elasticsearch sink against the real node from test/services: template and mappings,
// exact document counts, replays that overwrite, refused documents dead-lettered with their
// reason, and retention by the day in the index name.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { captureLogger } from '../../test/support/index.js';
import { ElasticsearchSink, elasticsearchSinkSpec } from './es-sink.js';
import { elasticsearchSinkOptions, type ElasticsearchSinkInput } from './options.js';

const url = inject('elasticsearchUrl');
const admin = new Client({ node: url });
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

function events(n: number, from = 0, over: (i: number) => Partial<LogEvent> = () => ({})): LogEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      id: `evt-${i}`,
      timestamp: T0 + (i % 2) * DAY + i,
      message: `request ${i} served`,
      service: i % 3 === 0 ? 'Checkout' : 'search',
      module: 'api',
      host: 'web-1',
      source: { kind: 'file', path: '/var/log/app.log', fileId: 'f1', offset: i * 100 },
      level: i % 10 === 0 ? 'error' : 'info',
      fields: { user: { id: i } },
      ...over(i),
    };
  });
}

/** Every test gets its own index prefix and template name, so runs never see each other's data. */
function setup(options: ElasticsearchSinkInput = {}) {
  const prefix = `sluice-int-${randomUUID().slice(0, 8)}`;
  const o = elasticsearchSinkOptions.parse({
    url,
    index: `${prefix}-{service}-%Y.%m.%d`,
    template: { name: prefix, replicas: 0 },
    ...options,
  });
  const sink = new ElasticsearchSink(o, { name: 'es-test', logger: silentLogger() });
  cleanups.push(async () => {
    await sink.close();
    await deleteIndices(`${prefix}-*`);
    await admin.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
  });
  return { sink, prefix };
}

async function indices(pattern: string): Promise<Record<string, number>> {
  await admin.indices.refresh({ index: pattern, allow_no_indices: true, ignore_unavailable: true });
  const rows = await admin.cat.indices({ index: pattern, format: 'json', h: ['index', 'docs.count'] });
  return Object.fromEntries(rows.map((r) => [r.index!, Number(r['docs.count'])]));
}

async function deleteIndices(pattern: string): Promise<void> {
  // The test node requires exact names for deletes (action.destructive_requires_name).
  for (const index of Object.keys(await indices(pattern))) await admin.indices.delete({ index }).catch(() => undefined);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
afterAll(() => admin.close());

describe('elasticsearch sink (real node)', () => {
  it('installs the index template with explicit mappings at open', async () => {
    const { sink, prefix } = setup();
    await sink.open();
    const { index_templates } = await admin.indices.getIndexTemplate({ name: prefix });
    const t = index_templates[0]!.index_template;
    expect(t.index_patterns).toEqual([`${prefix}-*-*.*.*`]);
    expect(t.priority).toBe(200);
    const p = t.template!.mappings!.properties!;
    expect(String(t.template!.mappings!.dynamic)).toBe('false');
    expect(p['@timestamp']!.type).toBe('date');
    for (const f of ['service', 'module', 'host', 'level', 'event_id']) expect([f, p[f]!.type]).toEqual([f, 'keyword']);
    expect(p.message).toMatchObject({ type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 1024 } } });
    expect((p.source as { properties: Record<string, { type: string }> }).properties.path!.type).toBe('keyword');
    expect(p.fields!.type).toBe('flattened');
  });

  it('indexes every event exactly once into daily indices named from service and event day', async () => {
    const { sink, prefix } = setup({ batch: { max_events: 300 } });
    await sink.open();
    const all = events(3000);
    for (let i = 0; i < all.length; i += 1000) await sink.write(all.slice(i, i + 1000));
    expect(await indices(`${prefix}-*`)).toEqual({
      [`${prefix}-checkout-2024.05.01`]: 500,
      [`${prefix}-checkout-2024.05.02`]: 500,
      [`${prefix}-search-2024.05.01`]: 1000,
      [`${prefix}-search-2024.05.02`]: 1000,
    });
    const got = await admin.get<Record<string, unknown>>({ index: `${prefix}-checkout-2024.05.01`, id: 'evt-30' });
    expect(got._source).toEqual({
      '@timestamp': new Date(T0 + 30).toISOString(),
      event_id: 'evt-30',
      message: 'request 30 served',
      service: 'Checkout',
      module: 'api',
      host: 'web-1',
      level: 'error',
      source: { kind: 'file', path: '/var/log/app.log', file_id: 'f1', offset: 3000 },
      fields: { user: { id: 30 } },
    });
    const errors = await admin.count({ index: `${prefix}-*`, query: { term: { level: 'error' } } });
    expect(errors.count).toBe(300);
    const byField = await admin.count({ index: `${prefix}-*`, query: { term: { 'fields.user.id': '7' } } });
    expect(byField.count).toBe(1);
  });

  it('a replay of the same events (and an overlapping range) leaves exactly one document per event', async () => {
    const { sink, prefix } = setup();
    await sink.open();
    const all = events(2000);
    await sink.write(all);
    await sink.write(all);
    // Concurrent writes of overlapping ranges, as two redelivered batches would be.
    await Promise.all([sink.write(all.slice(500, 1500)), sink.write(all.slice(1000, 2000)), sink.write(events(500, 2000))]);
    const counts = await indices(`${prefix}-*`);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(2500);
  });

  it('reports a document Elasticsearch refuses (field type conflict) as refused with its reason; the rest are indexed', async () => {
    const { sink, prefix } = setup();
    // An index made before the template, where fields.code is a long: a string there is refused.
    const legacy = `${prefix}-search-2024.05.01`;
    await admin.indices.create({
      index: legacy,
      settings: { number_of_replicas: 0 },
      mappings: { properties: { fields: { properties: { code: { type: 'long' } } } } },
    });
    await sink.open();
    const batch = events(10, 0, (i) => ({ service: 'search', timestamp: T0 + i, fields: { code: i === 4 || i === 7 ? `E${i}` : i } }));
    const result = await sink.write(batch);
    expect(result.retry).toEqual([]);
    const got = result.refused;
    expect(got.map((r) => [r.event.id, r.reason.slice(0, `index ${legacy}: HTTP 400`.length)])).toEqual([
      ['evt-4', `index ${legacy}: HTTP 400`],
      ['evt-7', `index ${legacy}: HTTP 400`],
    ]);
    expect(got[0]!.reason).toMatch(/parsing_exception: .*\[fields\.code\] of type \[long\]/);
    expect(got[0]!.event).toEqual(batch[4]);
    expect(await indices(legacy)).toEqual({ [legacy]: 8 });
    // The pipeline goes on: the next batch is written normally.
    await sink.write(events(5, 100, () => ({ service: 'search', timestamp: T0 })));
    expect(await indices(legacy)).toEqual({ [legacy]: 13 });
  });

  it('built from its spec, refuses a whole batch of conflicting documents without retrying or throwing', async () => {
    const prefix = `sluice-int-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-es-'));
    const sink = elasticsearchSinkSpec.create(
      elasticsearchSinkOptions.parse({ url, index: `${prefix}-{service}-%Y.%m.%d`, template: { name: prefix, replicas: 0 } }),
      { name: 'search', logger: silentLogger(), dataDir: dir, host: 'h' },
    );
    cleanups.push(async () => {
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
      await deleteIndices(`${prefix}-*`);
      await admin.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
    });
    const legacy = `${prefix}-search-2024.05.01`;
    await admin.indices.create({
      index: legacy,
      settings: { number_of_replicas: 0 },
      mappings: { properties: { message: { type: 'date' } } },
    });
    await sink.open();
    const batch = events(3, 0, () => ({ service: 'search', timestamp: T0 }));
    const { refused, retry } = await sink.write(batch);
    expect(retry).toEqual([]);
    expect(refused.map((d) => d.event)).toEqual(batch);
    expect(refused[0]!.reason).toMatch(new RegExp(`^index ${legacy}: HTTP 400: .*parsing_exception`));
    expect(refused[0]!.reason).toContain('[message] of type [date]');
  });

  it('retention deletes the daily indices older than retention_days and nothing else', async () => {
    const { sink, prefix } = setup({ retention_days: 3 });
    await sink.open();
    const now = Date.UTC(2024, 4, 10, 8, 0, 0);
    const days = [0, 1, 2, 3, 4, 9].map((d) => now - d * DAY);
    await sink.write(days.map((ts, i) => ({ ...events(1, i)[0]!, service: 'search', timestamp: ts })));
    // Not ours although it matches the pattern: the day cannot be read from its name.
    await admin.indices.create({ index: `${prefix}-search-x.y.z`, settings: { number_of_replicas: 0 } });
    const deleted = await sink.applyRetention(now);
    expect(deleted.sort()).toEqual([`${prefix}-search-2024.05.01`, `${prefix}-search-2024.05.06`]);
    expect(Object.keys(await indices(`${prefix}-*`)).sort()).toEqual([
      `${prefix}-search-2024.05.07`,
      `${prefix}-search-2024.05.08`,
      `${prefix}-search-2024.05.09`,
      `${prefix}-search-2024.05.10`,
      `${prefix}-search-x.y.z`,
    ]);
  });

  it('retention counts back from the newest index, not from a clock that is ahead of the data', async () => {
    const { sink, prefix } = setup({ retention_days: 3 });
    await sink.open();
    const now = Date.UTC(2024, 4, 10, 8, 0, 0);
    await sink.write([0, 1, 2, 3, 9].map((d, i) => ({ ...events(1, i)[0]!, service: 'search', timestamp: now - d * DAY })));
    // A year later by the clock, with no data since: the newest days with an index stay
    // (today and retention_days before it: four).
    expect(await sink.applyRetention(now + 365 * DAY)).toEqual([`${prefix}-search-2024.05.01`]);
    expect(Object.keys(await indices(`${prefix}-*`)).sort()).toEqual(['07', '08', '09', '10'].map((d) => `${prefix}-search-2024.05.${d}`));
  });

  it('data_stream mode appends with op create; a replay is a conflict counted as done, not a copy', async () => {
    const prefix = `sluice-int-ds-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-es-'));
    const o = elasticsearchSinkOptions.parse({
      url,
      mode: 'data_stream',
      index: `${prefix}-{service}`,
      template: { name: prefix, replicas: 0 },
    });
    const sink = new ElasticsearchSink(o, { name: 'es-ds', logger: silentLogger() });
    cleanups.push(async () => {
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
      await admin.indices.deleteDataStream({ name: `${prefix}-search` }).catch(() => undefined);
      await admin.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
    });
    await sink.open();
    const all = events(600, 0, () => ({ service: 'search' }));
    await sink.write(all);
    await sink.write(all.slice(0, 300));
    await admin.indices.refresh({ index: `${prefix}-search` });
    expect((await admin.count({ index: `${prefix}-search` })).count).toBe(600);
  });

  it('names the template after its index pattern: an older Sluice template for it is replaced, a renamed sink shares it', async () => {
    const prefix = `sluice-int-tpl-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-es-'));
    const older = `sluice-es-old-${prefix}`;
    cleanups.push(async () => {
      rmSync(dir, { recursive: true, force: true });
      await admin.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
      await admin.indices.deleteIndexTemplate({ name: older }).catch(() => undefined);
    });
    // What an earlier version installed: named after the sink, marked as Sluice's.
    await admin.indices.putIndexTemplate({
      name: older,
      index_patterns: [`${prefix}-*-*.*.*`],
      priority: 200,
      _meta: { managed_by: 'sluice' },
    });
    const o = elasticsearchSinkOptions.parse({ url, index: `${prefix}-{service}-%Y.%m.%d`, template: { replicas: 0 } });
    const { logger, lines } = captureLogger();
    for (const name of ['es-old', 'es-renamed']) {
      const sink = new ElasticsearchSink(o, { name, logger });
      await sink.open();
      await sink.close();
    }
    const { index_templates } = await admin.indices.getIndexTemplate({ name: `${prefix}*` });
    expect(index_templates.map((t) => t.name)).toEqual([prefix]);
    expect(index_templates[0]!.index_template._meta).toMatchObject({ managed_by: 'sluice', index_pattern: `${prefix}-*-*.*.*` });
    expect(lines.filter((l) => l.msg === 'replaced an older sluice index template for the same pattern').map((l) => l.replaced)).toEqual([
      older,
    ]);
  });

  it('fails to open with one line naming both templates when a foreign template of the same priority overlaps', async () => {
    const prefix = `sluice-int-tpl-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-es-'));
    const foreign = `${prefix}-other-team`;
    cleanups.push(async () => {
      rmSync(dir, { recursive: true, force: true });
      await admin.indices.deleteIndexTemplate({ name: foreign }).catch(() => undefined);
      await admin.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
    });
    await admin.indices.putIndexTemplate({ name: foreign, index_patterns: [`${prefix}-audit-*`], priority: 200 });
    const o = elasticsearchSinkOptions.parse({ url, index: `${prefix}-{service}-%Y.%m.%d`, template: { replicas: 0 } });
    const sink = new ElasticsearchSink(o, { name: 'es', logger: silentLogger() });
    const err = await sink.open().then(
      () => undefined,
      (e: Error) => e,
    );
    await sink.close();
    expect(err?.message).toBe(
      `elasticsearch sink "es": index template "${prefix}" (${prefix}-*-*.*.*, priority 200) overlaps template "${foreign}" (${prefix}-audit-*, priority 200) that Sluice did not install: set template.priority to another value (the higher one applies where both match), or template.install: false to index with the existing template`,
    );
    // The way out it names works.
    const moved = elasticsearchSinkOptions.parse({ url, index: `${prefix}-{service}-%Y.%m.%d`, template: { replicas: 0, priority: 201 } });
    const again = new ElasticsearchSink(moved, { name: 'es', logger: silentLogger() });
    await again.open();
    await again.close();
  });

  it("retention deletes Sluice's old indices and keeps an old index of another writer that matches the pattern", async () => {
    const { sink, prefix } = setup({ retention_days: 3 });
    const foreignTemplate = `${prefix}-audit-team`;
    cleanups.push(() =>
      admin.indices.deleteIndexTemplate({ name: foreignTemplate }).then(
        () => undefined,
        () => undefined,
      ),
    );
    // Another writer's indices under its own template (higher priority: it wins for logs-audit-*).
    await admin.indices.putIndexTemplate({
      name: foreignTemplate,
      index_patterns: [`${prefix}-audit-*`],
      priority: 300,
      template: { settings: { number_of_replicas: 0 } },
    });
    await sink.open();
    const now = Date.UTC(2024, 4, 10, 8, 0, 0);
    await sink.write([9, 3, 1, 0].map((d, i) => ({ ...events(1, i)[0]!, service: 'search', timestamp: now - d * DAY })));
    await sink.write([{ ...events(1, 4)[0]!, service: 'billing', timestamp: now - 2 * DAY }]);
    await admin.index({ index: `${prefix}-audit-2020.01.01`, document: { note: 'not sluice' }, refresh: true });
    const deleted = await sink.applyRetention(now);
    expect(deleted).toEqual([`${prefix}-search-2024.05.01`]);
    expect(Object.keys(await indices(`${prefix}-*`)).sort()).toEqual([
      `${prefix}-audit-2020.01.01`,
      `${prefix}-billing-2024.05.08`,
      `${prefix}-search-2024.05.07`,
      `${prefix}-search-2024.05.09`,
      `${prefix}-search-2024.05.10`,
    ]);
  });

  it('indexes an event from 2015 into the index of its arrival day when older than max_event_age, with its own @timestamp', async () => {
    const { sink, prefix } = setup({ max_event_age: '7d', max_future: '1d' });
    await sink.open();
    const old = { ...events(1, 0)[0]!, service: 'zookeeper', timestamp: Date.UTC(2015, 2, 4, 10, 0, 0) };
    const before = Date.now();
    await sink.write([old]);
    const after = Date.now();
    const names = Object.keys(await indices(`${prefix}-*`));
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '.');
    expect(names).toHaveLength(1);
    expect([`${prefix}-zookeeper-${day(before)}`, `${prefix}-zookeeper-${day(after)}`]).toContain(names[0]);
    const hits = (await admin.search({ index: names[0]!, query: { ids: { values: [old.id] } } })).hits.hits;
    expect(hits).toHaveLength(1);
    const doc = hits[0]!._source as { '@timestamp': string; fields: Record<string, unknown> };
    expect(doc['@timestamp']).toBe('2015-03-04T10:00:00.000Z');
    const arrival = Date.parse(String(doc.fields['log.time_partition']));
    expect(arrival).toBeGreaterThanOrEqual(before);
    expect(arrival).toBeLessThanOrEqual(after);
  });

  it('refuses an event whose id Elasticsearch cannot take (over 512 bytes) with its reason, and indexes the rest of its batch', async () => {
    const { sink, prefix } = setup();
    await sink.open();
    // Alone in a bulk request, such an _id fails the whole request (400), every other event with it.
    const batch = events(10, 0, (i) => (i === 3 ? { id: `x${'é'.repeat(300)}` } : {}));
    const result = await sink.write(batch);
    expect(result.retry).toEqual([]);
    expect(result.refused.map((r) => [r.event, r.reason])).toEqual([
      [batch[3], 'event id of 601 bytes: Elasticsearch takes _id values up to 512'],
    ]);
    const counts = await indices(`${prefix}-*`);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(9);
  });

  it('after a restart, index_max_distinct admits the combinations of the existing indices first: a replayed event goes where its first copy went', async () => {
    const { sink: first, prefix } = setup({ index_max_distinct: 3 });
    const at = (id: string, service: string): LogEvent => ({ ...events(1)[0]!, id, service, timestamp: T0 });
    // A combination known only from a closed index of an earlier day, as a retained day can be.
    const closed = `${prefix}-alpha-2024.04.30`;
    await admin.indices.create({ index: closed, settings: { number_of_replicas: 0 } });
    await admin.indices.close({ index: closed });
    await first.open();
    await first.write([at('b1', 'beta'), at('g1', 'gamma'), at('e1', 'epsilon'), at('x1', 'xi')]);
    await first.close();
    // A new instance on the same indices: a collector restarted, reloaded, or another worker.
    const o = elasticsearchSinkOptions.parse({
      url,
      index: `${prefix}-{service}-%Y.%m.%d`,
      template: { name: prefix, replicas: 0 },
      index_max_distinct: 3,
    });
    const second = new ElasticsearchSink(o, { name: 'es-test', logger: silentLogger() });
    cleanups.push(() => second.close());
    await second.open();
    // xi's event again first (its batch was not acknowledged), then a new combination and two that exist.
    await second.write([at('x1', 'xi'), at('z1', 'zeta'), at('g2', 'gamma'), at('a2', 'alpha')]);
    await admin.indices.refresh({ index: `${prefix}-*` });
    const { hits } = await admin.search({ index: `${prefix}-*`, size: 100, _source: false, query: { match_all: {} } });
    const byIndex: Record<string, string[]> = {};
    for (const h of hits.hits) (byIndex[h._index] ??= []).push(h._id!);
    for (const ids of Object.values(byIndex)) ids.sort();
    expect(byIndex).toEqual({
      [`${prefix}-alpha-2024.05.01`]: ['a2'],
      [`${prefix}-beta-2024.05.01`]: ['b1'],
      [`${prefix}-gamma-2024.05.01`]: ['g1', 'g2'],
      [`${prefix}-_other-2024.05.01`]: ['e1', 'x1', 'z1'],
    });
    expect((await admin.indices.get({ index: closed, expand_wildcards: ['open', 'closed'] }))[closed]).toBeDefined();
  });

  it('retries the events of an index that blocks writes, refuses them once blocked_index_timeout has passed, and indexes them once the block lifts', async () => {
    const { sink, prefix } = setup({ blocked_index_timeout: '1s' });
    const blocked = `${prefix}-search-2024.05.01`;
    await admin.indices.create({ index: blocked, settings: { number_of_replicas: 0, 'index.blocks.write': true } });
    await sink.open();
    const batch = events(6, 0, (i) => ({ service: i % 2 === 0 ? 'search' : 'checkout', timestamp: T0 + i }));
    const first = await sink.write(batch);
    expect(first.refused).toEqual([]);
    expect(first.retry.map((e) => e.id)).toEqual(['evt-0', 'evt-2', 'evt-4']);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await sink.write(first.retry);
    expect(second.retry).toEqual([]);
    expect(second.refused.map((r) => r.event.id)).toEqual(['evt-0', 'evt-2', 'evt-4']);
    expect(second.refused[0]!.reason).toMatch(
      new RegExp(`^index ${blocked}: still blocking writes after blocked_index_timeout \\(1000 ms\\): HTTP 403: cluster_block_exception`),
    );
    await admin.indices.putSettings({ index: blocked, settings: { 'index.blocks.write': false } });
    expect(await sink.write(first.retry)).toEqual({ refused: [], retry: [] });
    expect(await indices(`${prefix}-*`)).toEqual({ [blocked]: 3, [`${prefix}-checkout-2024.05.01`]: 3 });
  });
});

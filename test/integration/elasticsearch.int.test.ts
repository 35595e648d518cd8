// The real Elasticsearch node from test/services answers the official client: an index
// created, a document indexed under a chosen id, found again with exactly its source.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

describe('Elasticsearch (real node)', () => {
  const client = new Client({ node: inject('elasticsearchUrl') });
  const index = `sluice-int-${randomUUID()}`;

  beforeAll(async () => {
    await client.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: { properties: { service: { type: 'keyword' }, message: { type: 'text' }, '@timestamp': { type: 'date' } } },
    });
  });

  afterAll(async () => {
    await client.indices.delete({ index }).catch(() => undefined);
    await client.close();
  });

  it('indexes documents under their ids and finds exactly the matching one', async () => {
    const doc = { '@timestamp': '2026-01-02T03:04:05.678Z', service: 'checkout', message: 'payment accepted for order 42 ✓' };
    const other = { '@timestamp': '2026-01-02T03:04:06.000Z', service: 'search', message: 'query took 12 ms' };
    const first = await client.index({ index, id: 'evt-1', document: doc });
    expect(first.result).toBe('created');
    await client.index({ index, id: 'evt-2', document: other });
    // Indexing the same id again replaces, never duplicates: what makes replays harmless.
    const again = await client.index({ index, id: 'evt-1', document: doc });
    expect(again.result).toBe('updated');
    await client.indices.refresh({ index });

    expect((await client.count({ index })).count).toBe(2);
    const found = await client.search<typeof doc>({ index, query: { term: { service: 'checkout' } } });
    expect(found.hits.total).toEqual({ value: 1, relation: 'eq' });
    expect(found.hits.hits.map((h) => ({ id: h._id, source: h._source }))).toEqual([{ id: 'evt-1', source: doc }]);
  });
});

/**
 * What tests against a real Elasticsearch share: the indices of one test run are named
 * `<prefix>-...` and its index template `prefix`, so they are found and removed by that prefix.
 */
import type { Client } from '@elastic/elasticsearch';

/** The indices `<prefix>-*`, sorted (none while there is none). */
export async function indicesOf(es: Client, prefix: string): Promise<string[]> {
  const rows = await es.cat.indices({ index: `${prefix}-*`, format: 'json', h: ['index'] }).catch(() => []);
  return rows.map((r) => r.index!).sort();
}

/** Every document of the indices `<prefix>-*` (at most `size`), refreshed first: what a search finds now. */
export async function documents<T>(es: Client, prefix: string, size = 5000): Promise<T[]> {
  await es.indices.refresh({ index: `${prefix}-*`, allow_no_indices: true, ignore_unavailable: true });
  const r = await es.search({ index: `${prefix}-*`, size, ignore_unavailable: true, allow_no_indices: true });
  return r.hits.hits as unknown as T[];
}

/** Deletes what a test made: the indices `<prefix>-*` and the index template `prefix`. */
export async function dropIndices(es: Client, prefix: string): Promise<void> {
  for (const index of await indicesOf(es, prefix)) await es.indices.delete({ index }).catch(() => undefined);
  await es.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
}

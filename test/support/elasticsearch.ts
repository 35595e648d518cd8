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

/**
 * Every document of the indices `<prefix>-*` (at most `size`), refreshed first: what a search
 * finds now. An index the sink has just created may have no started shard yet, and a search
 * of only such indices fails as a whole (503, no_shard_available_action_exception): nothing is
 * searchable yet, so that is no documents, and a waitFor asks again.
 */
export async function documents<T>(es: Client, prefix: string, size = 5000): Promise<T[]> {
  await es.indices.refresh({ index: `${prefix}-*`, allow_no_indices: true, ignore_unavailable: true });
  try {
    const r = await es.search({ index: `${prefix}-*`, size, ignore_unavailable: true, allow_no_indices: true });
    return r.hits.hits as unknown as T[];
  } catch (err) {
    if (noShardStartedYet(err)) return [];
    throw err;
  }
}

function noShardStartedYet(err: unknown): boolean {
  const meta = (err as { meta?: { statusCode?: number; body?: unknown } }).meta;
  return meta?.statusCode === 503 && JSON.stringify(meta.body ?? '').includes('no_shard_available_action_exception');
}

/** Deletes what a test made: the indices `<prefix>-*` and the index template `prefix`. */
export async function dropIndices(es: Client, prefix: string): Promise<void> {
  for (const index of await indicesOf(es, prefix)) await es.indices.delete({ index }).catch(() => undefined);
  await es.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
}

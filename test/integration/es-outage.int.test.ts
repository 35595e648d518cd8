// Elasticsearch stopped in the middle of a stream of writes and started again: the writes
// that hit the outage block (so a collector would stop acking and Kafka would pause), then
// finish by themselves once the node is back; every event ends up indexed exactly once.
// Runs its own node so stopping it disturbs no other test run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { metrics } from '../../core/metrics.js';
import { silentLogger } from '../../core/log.js';
import { ElasticsearchSink } from '../../sinks/elasticsearch/es-sink.js';
import { elasticsearchSinkOptions } from '../../sinks/elasticsearch/options.js';
import { ElasticsearchService, freePorts } from '../services/services.mjs';
import { waitFor } from '../support/index.js';

let node: ElasticsearchService;
const dir = mkdtempSync(join(tmpdir(), 'sluice-es-outage-'));

async function retriedSoFar(): Promise<number> {
  const m = await metrics.getSingleMetric('sluice_elasticsearch_events_retried_total')!.get();
  return m.values.find((v) => v.labels.component === 'outage')?.value ?? 0;
}

describe('elasticsearch sink across an Elasticsearch outage', () => {
  beforeAll(async () => {
    // A private node (stopping the shared one would break other test runs), named per process.
    const [port, transportPort] = await freePorts(2);
    node = new ElasticsearchService({ name: `es-sink-outage-${process.pid}`, port, transportPort });
    await node.start();
  });
  afterAll(async () => {
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('blocks while the node is down and completes after it restarts, with zero loss and zero copies', async () => {
    const options = elasticsearchSinkOptions.parse({
      url: node.url,
      index: 'outage-{service}-%Y.%m.%d',
      template: { replicas: 0 },
      batch: { max_events: 200 },
      retry_initial: '50ms',
      retry_max: '1s',
      request_timeout: '10s',
    });
    const sink = new ElasticsearchSink(options, { name: 'outage', logger: silentLogger(), dataDir: dir });
    await sink.open();
    const batchSize = 500;
    const batch = (b: number): LogEvent[] =>
      Array.from({ length: batchSize }, (_, k) => {
        const i = b * batchSize + k;
        return {
          id: `outage-${i}`,
          timestamp: Date.UTC(2024, 5, 1) + i,
          message: `line ${i}`,
          service: 'svc',
          module: 'm',
          host: 'h',
          source: { kind: 'file', path: '/log', offset: i },
          fields: {},
        };
      });

    // A collector writes batch after batch, each only after the previous one resolved,
    // until told how many batches to end at (a few more once the node is back).
    let completed = 0;
    let endAt = Infinity;
    const stream = (async () => {
      for (let b = 0; b < endAt; b++) {
        await sink.write(batch(b));
        completed = b + 1;
      }
    })();

    await waitFor('a few batches written', () => completed >= 2, 60_000);
    await node.stop();
    // The sink has met the outage: requests fail and are retried, round after round ...
    const r0 = await retriedSoFar();
    await waitFor('the sink to retry against the stopped node', async () => (await retriedSoFar()) > r0, 60_000);
    const blockedAt = completed;
    const r1 = await retriedSoFar();
    await waitFor('another retry round', async () => (await retriedSoFar()) > r1, 60_000);
    // ... and no write resolved meanwhile: the stream is blocked, not skipping ahead.
    expect(completed).toBe(blockedAt);

    await node.start();
    endAt = blockedAt + 4;
    await stream;
    expect(completed).toBe(endAt);
    await sink.close();
    const total = endAt * batchSize;

    const client = new Client({ node: node.url });
    try {
      await client.indices.refresh({ index: 'outage-svc-2024.06.01' });
      expect((await client.count({ index: 'outage-svc-2024.06.01' })).count).toBe(total);
      // Every id is there once: the documents' ids are exactly the events' ids.
      const ids = await client.search({
        index: 'outage-svc-2024.06.01',
        size: 0,
        aggs: { ids: { cardinality: { field: 'event_id', precision_threshold: 40000 } } },
      });
      expect((ids.aggregations!.ids as { value: number }).value).toBe(total);
    } finally {
      await client.close();
    }
  });
});

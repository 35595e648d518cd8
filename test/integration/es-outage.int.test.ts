// Elasticsearch stopped in the middle of a stream of batches and started again: the sink's
// writes fail (it never retries by itself), the collector — the one retry owner — retries
// the batch with backoff and acks nothing meanwhile (so Kafka would pause), and once the node
// is back every event ends up indexed exactly once. Runs its own node so stopping it
// disturbs no other test run.
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.js';
import type { LogEvent } from '../../core/event.js';
import type { Sink } from '../../core/pipeline.js';
import { silentLogger } from '../../core/log.js';
import { ElasticsearchSink } from '../../sinks/elasticsearch/es-sink.js';
import { elasticsearchSinkOptions } from '../../sinks/elasticsearch/options.js';
import { ElasticsearchService, freePorts } from '../services/services.mjs';
import { HandConsumer, waitFor } from '../support/index.js';

let node: ElasticsearchService;

describe('elasticsearch sink across an Elasticsearch outage', () => {
  beforeAll(async () => {
    // A private node (stopping the shared one would break other test runs), named per process.
    const [port, transportPort] = await freePorts(2);
    node = new ElasticsearchService({ name: `es-sink-outage-${process.pid}`, port, transportPort });
    await node.start();
  });
  afterAll(async () => {
    await node?.destroy();
  });

  it('blocks while the node is down and completes after it restarts, with zero loss and zero copies', async () => {
    const options = elasticsearchSinkOptions.parse({
      url: node.url,
      index: 'outage-{service}-%Y.%m.%d',
      template: { replicas: 0 },
      batch: { max_events: 200 },
      request_timeout: '10s',
    });
    const es = new ElasticsearchSink(options, { name: 'outage', logger: silentLogger() });
    let failedWrites = 0;
    const sink: Sink = {
      open: () => es.open(),
      close: () => es.close(),
      write: (batch) =>
        es.write(batch).catch((err: unknown) => {
          failedWrites++;
          throw err;
        }),
    };
    // One batch at a time, the next only once the previous one was acked (as one partition would).
    const consumer = new HandConsumer();
    const collector = new Collector(consumer, [{ name: 'outage', sink }], silentLogger());
    await collector.start();
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

    // Batch after batch, each only after the previous one was acked, until told how many
    // batches to end at (a few more once the node is back).
    let completed = 0;
    let endAt = Infinity;
    const stream = (async () => {
      for (let b = 0; b < endAt; b++) {
        expect(await consumer.send(batch(b))).toBe(true);
        completed = b + 1;
      }
    })();

    await waitFor('a few batches written', () => completed >= 2, 60_000);
    await node.stop();
    // The sink has met the outage: its writes fail and the collector retries, round after round ...
    const f0 = failedWrites;
    await waitFor('the collector to retry against the stopped node', () => failedWrites > f0, 60_000);
    const blockedAt = completed;
    const f1 = failedWrites;
    await waitFor('another retry round', () => failedWrites > f1, 60_000);
    // ... and no batch was acked meanwhile: the stream is blocked, not skipping ahead.
    expect(completed).toBe(blockedAt);

    await node.start();
    endAt = blockedAt + 4;
    await stream;
    expect(completed).toBe(endAt);
    await collector.stop();
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

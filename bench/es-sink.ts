// npm run bench -- es-sink [events]
//
// The Elasticsearch sink's indexing rate against the limit of the same node in the same run:
// a bare bulk loader sending the same documents (same serialization, same index names, same
// bulk size and concurrency), with no per-item bookkeeping, dead-letter or retry logic.
// The sink is driven the way the collector drives it: one write() of 2000 events after
// another, each awaited. Runs alternate (limit, sink, limit, sink) and the best of each is
// kept (after an uncounted warm-up), so a warming JVM or a noisy neighbour does not favour either side.
// Prints {"bench":"es-sink","docs_per_s":…,"limit_docs_per_s":…} as its last line.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { toDocument } from '../sinks/elasticsearch/document.js';
import { ElasticsearchSink } from '../sinks/elasticsearch/es-sink.js';
import { IndexNamer } from '../sinks/elasticsearch/index-name.js';
import { elasticsearchSinkOptions } from '../sinks/elasticsearch/options.js';

type Services = typeof import('../test/services/services.mjs');

const TOTAL = Number(process.argv[2] ?? 40_000);
const BULK = 1000;
const CONCURRENCY = 2;
const WRITE = 2000;
const ROUNDS = 2;

const services = (await import(pathToFileURL(join(process.cwd(), 'test/services/services.mjs')).href)) as Services;
const session = await services.acquire({ log: (l) => process.stderr.write(`[services] ${l}\n`) });
const url = session.elasticsearchUrl;
const admin = new Client({ node: url });

const SERVICES = ['checkout', 'search', 'payments', 'auth'];
function makeEvents(run: string): LogEvent[] {
  const t0 = Date.UTC(2024, 5, 1, 8);
  return Array.from({ length: TOTAL }, (_, i) => ({
    id: `${run}-${i}`,
    timestamp: t0 + i * 7,
    message: `2024-06-01 08:00:00.${i % 1000} INFO [http-nio-8080-exec-${i % 16}] c.e.shop.OrderController - order ${i} placed by user ${i % 977} in ${i % 300} ms, items=${i % 7}`,
    service: SERVICES[i % SERVICES.length]!,
    module: i % 3 ? 'api' : 'worker',
    host: `web-${i % 4}`,
    source: { kind: 'file', path: '/var/log/app/app.log', fileId: 'dev1:ino42:abcd', offset: i * 160 },
    fields: { level: i % 50 ? 'info' : 'error', thread: `exec-${i % 16}`, duration_ms: i % 300 },
  }));
}

async function cleanup(prefix: string): Promise<void> {
  const rows = await admin.cat.indices({ index: `${prefix}-*`, format: 'json', h: ['index'] });
  for (const r of rows) await admin.indices.delete({ index: r.index! });
}

/** The limit: serialize and bulk-send with CONCURRENCY workers, nothing else. */
async function bareLoader(prefix: string, events: LogEvent[]): Promise<number> {
  const namer = new IndexNamer(`${prefix}-{service}-%Y.%m.%d`);
  const client = new Client({ node: url, maxRetries: 0, requestTimeout: 120_000 });
  const start = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const chunk = events.slice(next, (next += BULK));
      let body = '';
      for (const e of chunk) body += `{"index":{"_index":"${namer.name(e)}","_id":${JSON.stringify(e.id)}}}\n${toDocument(e)}\n`;
      const res = (await client.transport.request({
        method: 'POST',
        path: '/_bulk',
        querystring: { filter_path: 'errors' },
        bulkBody: body,
      })) as { errors: boolean };
      if (res.errors) throw new Error('bare loader: bulk items failed');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  await client.close();
  return events.length / s;
}

async function viaSink(prefix: string, events: LogEvent[]): Promise<number> {
  const options = elasticsearchSinkOptions.parse({
    url,
    index: `${prefix}-{service}-%Y.%m.%d`,
    template: { install: false },
    batch: { max_events: BULK },
    concurrency: CONCURRENCY,
  });
  const sink = new ElasticsearchSink(options, { name: 'bench', logger: silentLogger() });
  await sink.open();
  const start = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += WRITE) {
    const { refused, retry } = await sink.write(events.slice(i, i + WRITE));
    if (refused.length > 0 || retry.length > 0)
      throw new Error(
        `bench: ${refused.length} events refused, ${retry.length} to retry: ${refused[0]?.reason ?? 'Elasticsearch is busy'}`,
      );
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  await sink.close();
  return events.length / s;
}

async function count(prefix: string): Promise<number> {
  await admin.indices.refresh({ index: `${prefix}-*` });
  return (await admin.count({ index: `${prefix}-*` })).count;
}

try {
  const base = `bench-es-${process.pid}`;
  // One template for every run's indices, installed the way the sink installs it.
  const templateSink = new ElasticsearchSink(
    elasticsearchSinkOptions.parse({ url, index: `${base}-{service}-%Y.%m.%d`, template: { name: base, replicas: 0 } }),
    { name: 'bench', logger: silentLogger() },
  );
  await templateSink.open();
  await templateSink.close();

  // Warm-up, not counted: the node's first indices and JIT would otherwise penalize round 0.
  await bareLoader(`${base}-warm`, makeEvents(`${base}-warm`).slice(0, 10_000));
  await cleanup(`${base}-warm`);

  let limit = 0;
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['bare', 'sink'] as const) {
      const prefix = `${base}-r${round}${kind}`;
      const events = makeEvents(prefix);
      const rate = kind === 'bare' ? await bareLoader(prefix, events) : await viaSink(prefix, events);
      const stored = await count(prefix);
      if (stored !== TOTAL) throw new Error(`${kind} run ${round}: ${stored} documents stored, expected ${TOTAL}`);
      await cleanup(prefix);
      process.stderr.write(`round ${round} ${kind}: ${Math.round(rate)} docs/s\n`);
      if (kind === 'bare') limit = Math.max(limit, rate);
      else sink = Math.max(sink, rate);
    }
  }
  await admin.indices.deleteIndexTemplate({ name: base });
  console.log(
    JSON.stringify({
      bench: 'es-sink',
      docs_per_s: Math.round(sink),
      limit_docs_per_s: Math.round(limit),
      ratio: Number((sink / limit).toFixed(3)),
      events: TOTAL,
      bulk: BULK,
      concurrency: CONCURRENCY,
    }),
  );
} finally {
  await admin.close();
  await session.release();
}

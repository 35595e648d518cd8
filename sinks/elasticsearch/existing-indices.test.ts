// index_max_distinct seeded at open from the indices that exist: what the sink does when the
// listing fails. A stand-in node answers the listing as each test says and records the index
// of every bulk item; the real node is es-sink.int.test.ts ("... after a restart ...").
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger, makeEvent } from '../../test/support/index.js';
import { ElasticsearchSink } from './es-sink.js';
import { elasticsearchSinkOptions } from './options.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

interface Listing {
  status: number;
  body: unknown;
}

/** A node whose `_resolve/index` answers `listing()`; `bulk` holds the index of every bulk item, `listed` the patterns asked. */
async function node(listing: () => Listing): Promise<{ url: string; bulk: string[]; listed: string[] }> {
  const bulk: string[] = [];
  const listed: string[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-elastic-product', 'Elasticsearch');
      const path = decodeURIComponent(req.url ?? '');
      if (path.startsWith('/_resolve/index/')) {
        listed.push(path);
        const { status, body: answer } = listing();
        res.statusCode = status;
        res.end(JSON.stringify(answer));
      } else if (path.startsWith('/_bulk')) {
        const lines = body.trim().split('\n');
        for (let i = 0; i < lines.length; i += 2) bulk.push((JSON.parse(lines[i]!) as { index: { _index: string } }).index._index);
        res.end(JSON.stringify({ errors: false }));
      } else if (req.method === 'GET') res.end(JSON.stringify({ index_templates: [] }));
      else res.end(JSON.stringify({ acknowledged: true }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, bulk, listed };
}

const existing = (...names: string[]): Listing => ({
  status: 200,
  body: { indices: names.map((name) => ({ name, attributes: ['open'] })), aliases: [], data_streams: [] },
});
const busy: Listing = { status: 429, body: { error: { type: 'es_rejected_execution_exception', reason: 'queue full' }, status: 429 } };

function sink(url: string) {
  const { logger, lines } = captureLogger();
  const o = elasticsearchSinkOptions.parse({ url, index: 'logs-{service}-%Y.%m.%d', index_max_distinct: 1, batch: { timeout: 0 } });
  return { sink: new ElasticsearchSink(o, { name: 'es', logger }), lines };
}

const events = (...services: string[]) =>
  services.map((service, i) => makeEvent({ id: `e${i}`, service, timestamp: Date.UTC(2024, 2, 9, 12) }));

describe('elasticsearch sink: index_max_distinct seeded from the existing indices', () => {
  it('lists the indices of its pattern at open and admits their combinations before the ones that arrive first', async () => {
    const { url, bulk, listed } = await node(() => existing('logs-pay-2024.03.01', 'logs-_other-2024.03.01'));
    const { sink: es, lines } = sink(url);
    await es.open();
    await es.write(events('cart', 'pay'));
    await es.close();
    expect(listed).toEqual(['/_resolve/index/logs-*-*.*.*?expand_wildcards=open,closed']);
    expect(bulk).toEqual(['logs-_other-2024.03.09', 'logs-pay-2024.03.09']);
    expect(lines.find((l) => l.msg === 'admitted the value combinations of the existing indices')).toMatchObject({
      pattern: 'logs-*-*.*.*',
      indices: 2,
      combinations: 1,
      index_max_distinct: 1,
    });
  });

  it('when the listing fails for now at open, opens and lists before the first write names any event', async () => {
    let answer = busy;
    const { url, bulk, listed } = await node(() => answer);
    const { sink: es, lines } = sink(url);
    await es.open();
    expect(
      lines.find((l) => l.msg === 'Elasticsearch is not reachable yet; the index template will be installed before the first write'),
    ).toMatchObject({ err: 'HTTP 429: es_rejected_execution_exception: queue full' });
    // Still refusing at the first write: the write fails (the collector retries it), nothing is named or sent.
    await expect(es.write(events('cart', 'pay'))).rejects.toThrow(
      'elasticsearch sink "es": cannot list the indices matching logs-*-*.*.*, whose value combinations index_max_distinct admits first: HTTP 429: es_rejected_execution_exception: queue full',
    );
    expect(bulk).toEqual([]);
    answer = existing('logs-pay-2024.03.01');
    await es.write(events('cart', 'pay'));
    await es.close();
    expect(listed).toHaveLength(3);
    expect(bulk).toEqual(['logs-_other-2024.03.09', 'logs-pay-2024.03.09']);
  });

  it('fails to open, saying what it could not list, when the node refuses the listing', async () => {
    const { url } = await node(() => ({
      status: 403,
      body: { error: { type: 'security_exception', reason: 'action [indices:admin/resolve/index] is unauthorized' }, status: 403 },
    }));
    const { sink: es } = sink(url);
    await expect(es.open()).rejects.toThrow(
      'elasticsearch sink "es": cannot list the indices matching logs-*-*.*.*, whose value combinations index_max_distinct admits first: HTTP 403: security_exception: action [indices:admin/resolve/index] is unauthorized',
    );
    await es.close();
  });
});

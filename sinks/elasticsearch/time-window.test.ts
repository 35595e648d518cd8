// max_event_age / max_future in the Elasticsearch sink: the index an event far from now goes
// to, and the document it becomes. A stand-in node records the bulk bodies; the real node
// is es-sink.int.test.ts ("an event from 2015 ...").
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type LogEvent, TIME_PARTITION_FIELD } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { makeEvent } from '../../test/support/index.js';
import { ElasticsearchSink } from './es-sink.js';
import { elasticsearchSinkOptions, type ElasticsearchSinkInput } from './options.js';

const DAY = 86_400_000;
let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A node that accepts everything and keeps each bulk line pair as [action, document]. */
async function node(): Promise<{ url: string; docs: [Record<string, { _index: string }>, Record<string, unknown>][] }> {
  const docs: [Record<string, { _index: string }>, Record<string, unknown>][] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-elastic-product', 'Elasticsearch');
      if (req.url?.startsWith('/_bulk')) {
        const lines = body.trim().split('\n');
        for (let i = 0; i < lines.length; i += 2) docs.push([JSON.parse(lines[i]!), JSON.parse(lines[i + 1]!)]);
        res.end(JSON.stringify({ errors: false }));
      } else if (req.method === 'GET') res.end(JSON.stringify({ index_templates: [] }));
      else res.end(JSON.stringify({ acknowledged: true }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, docs };
}

const ev = (id: string, timestamp: number): LogEvent =>
  makeEvent({ id, timestamp, message: `line ${id}`, service: 'zk', module: 'server', host: 'h1', fields: { env: 'prod' } });

async function indexAll(options: ElasticsearchSinkInput, events: LogEvent[]) {
  const { url, docs } = await node();
  const o = elasticsearchSinkOptions.parse({ url, index: 'logs-{service}-%Y.%m.%d', batch: { timeout: 0 }, ...options });
  const sink = new ElasticsearchSink(o, { name: 'es', logger: silentLogger() });
  await sink.open();
  const before = Date.now();
  await sink.write(events);
  const after = Date.now();
  await sink.close();
  return { docs, before, after };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '.');

describe('elasticsearch sink: max_event_age and max_future', () => {
  it('indexes events beyond them into the index of their arrival day, with their own @timestamp and the arrival marked', async () => {
    const now = Date.now();
    const old = ev('old', Date.UTC(2015, 2, 4, 10));
    const recent = ev('recent', now - 2 * DAY);
    const ahead = ev('ahead', now + 30 * DAY);
    const { docs, before, after } = await indexAll({ max_event_age: '7d', max_future: '1d' }, [old, recent, ahead]);
    expect(docs).toHaveLength(3);
    const byId = Object.fromEntries(docs.map(([action, doc]) => [doc.event_id, { index: action.index!._index, doc }]));
    expect(byId.recent!.index).toBe(`logs-zk-${day(recent.timestamp)}`);
    expect(byId.recent!.doc.fields).toEqual({ env: 'prod' });
    for (const e of [old, ahead]) {
      const { index, doc } = byId[e.id]!;
      expect([`logs-zk-${day(before)}`, `logs-zk-${day(after)}`]).toContain(index);
      expect(doc['@timestamp']).toBe(new Date(e.timestamp).toISOString());
      const fields = doc.fields as Record<string, string>;
      expect(fields.env).toBe('prod');
      const arrival = Date.parse(fields[TIME_PARTITION_FIELD]!);
      expect(arrival).toBeGreaterThanOrEqual(before);
      expect(arrival).toBeLessThanOrEqual(after);
    }
    // The batch is shared with other sinks: the caller's event is not changed.
    expect(old.fields).toEqual({ env: 'prod' });
  });

  it('is off by default: old and future events go to the index of their own day', async () => {
    const old = ev('old', Date.UTC(2015, 2, 4, 10));
    const ahead = ev('ahead', Date.UTC(2099, 0, 1));
    const { docs } = await indexAll({}, [old, ahead]);
    expect(docs.map(([a]) => a.index!._index)).toEqual(['logs-zk-2015.03.04', 'logs-zk-2099.01.01']);
  });
});

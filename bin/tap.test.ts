import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runTap } from './tap.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** An api that answers /tap with these lines and ends the stream. */
async function answering(lines: unknown[]): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('sluice tap', () => {
  it('says in text what sampling left out and what a reader that fell behind missed, apart', async () => {
    const api = await answering([
      { tap: { components: ['sources.a'], rate: 100, limit: null } },
      { component: 'sources.a', skipped: 2 },
      { dropped: 3 },
    ]);
    const written: string[] = [];
    const noted: string[] = [];
    await runTap(
      ['sources.a'],
      { api, rate: '100', format: 'text' },
      {},
      (l) => written.push(l),
      (l) => noted.push(l),
    );
    expect(written).toEqual([]);
    expect(noted).toEqual([
      'tapping sources.a (at most 100 events/s each)',
      '… sources.a: 2 events not shown (sampled)',
      '… 3 events not shown (this reader fell behind)',
    ]);
  });
});

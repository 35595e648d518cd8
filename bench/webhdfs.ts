import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { webhdfsSinkOptions } from '../sinks/webhdfs/index.js';
import { WebHdfsSink } from '../sinks/webhdfs/webhdfs-sink.js';

/**
 * MiB/s into HDFS through the webhdfs sink (exactly-once on: write journal and the lane's
 * ledger, one APPEND per file per batch and one to the ledger) against a bare loader on the
 * same cluster that CREATEs one file per chunk of the same bytes, two requests per chunk,
 * nothing else. Both write 10 files per batch (10 services), batches of 20,000 ~200-byte
 * events (about 4 MiB, 400 KiB per file). The HDFS is the one test/services runs (WEBHDFS_URL).
 */
const url = process.env.WEBHDFS_URL;
if (!url) throw new Error('WEBHDFS_URL is not set: run through `npm run bench -- webhdfs`, which starts HDFS');
const user = process.env.USER || 'root';
const BATCH = 20_000;
const BATCHES = 30;
const FILES = 10;

const pad =
  'GET /api/v1/orders/12345?expand=items HTTP/1.1 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64)" rt=0.012 upstream=10.0.3.7:8080 ';
function batch(b: number): LogEvent[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    id: `b${b}-e${i}`,
    timestamp: Date.UTC(2024, 4, 1, 12),
    message: `10.0.${i % 256}.${(i * 7) % 256} - - ${pad}req=${String(i).padStart(8, '0')}`.slice(0, 199),
    service: `service-${i % FILES}`,
    module: 'web',
    host: 'bench-host',
    source: { kind: 'bench' },
    fields: {},
  }));
}

const agent = new http.Agent({ keepAlive: true });
function request(method: string, target: string, body?: Buffer): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method, agent, headers: { 'content-length': body?.length ?? 0 } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function bareLoader(root: string, batches: LogEvent[][]): Promise<{ bytes: number; seconds: number }> {
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (const [b, events] of batches.entries()) {
    const groups = new Map<string, string[]>();
    for (const e of events) {
      let lines = groups.get(e.service);
      if (!lines) groups.set(e.service, (lines = []));
      lines.push(e.message);
    }
    await Promise.all(
      [...groups].map(async ([service, lines]) => {
        const data = Buffer.from(`${lines.join('\n')}\n`);
        bytes += data.length;
        const nn = await request('PUT', `${url}/webhdfs/v1${root}/${service}/chunk-${b}.log?op=CREATE&overwrite=false&user.name=${user}`);
        const dn = await request('PUT', nn.location!, data);
        if (dn.status !== 201) throw new Error(`bare CREATE answered ${dn.status}`);
      }),
    );
  }
  return { bytes, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

async function viaSink(root: string, batches: LogEvent[][]): Promise<{ bytes: number; seconds: number }> {
  const state = mkdtempSync(join(tmpdir(), 'sluice-bench-webhdfs-'));
  const sink = new WebHdfsSink(
    webhdfsSinkOptions.parse({
      namenodes: [url],
      root,
      user,
      path: '{service}/{module}/%Y-%m-%d/{host}.log',
      idle_timeout: 0,
      roll_age: 0,
    }),
    { name: 'bench', logger: silentLogger(), dataDir: state },
  );
  await sink.open();
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (const events of batches) {
    // As behind Kafka: the batch's partition is its lane, recorded in the lane's ledger in HDFS.
    await sink.write(events, 'bench+0');
    for (const e of events) bytes += Buffer.byteLength(e.message) + 1;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await sink.close();
  rmSync(state, { recursive: true, force: true });
  return { bytes, seconds };
}

const batches = Array.from({ length: BATCHES }, (_, b) => batch(b));
const run = `/bench-${randomUUID()}`;
// Warm both paths (JIT, connections, the DataNode's first block) before measuring.
await bareLoader(`${run}/warm-bare`, batches.slice(0, 2));
await viaSink(
  `${run}/warm-sink`,
  batches.slice(0, 2).map((events, b) => events.map((e) => ({ ...e, id: `w${b}-${e.id}` }))),
);
const bare = await bareLoader(`${run}/bare`, batches);
const sink = await viaSink(`${run}/sink`, batches);
await request('DELETE', `${url}/webhdfs/v1${run}?op=DELETE&recursive=true&user.name=${user}`);
agent.destroy();
const mib = (r: { bytes: number; seconds: number }) => Math.round((r.bytes / 1024 / 1024 / r.seconds) * 10) / 10;
console.log(
  JSON.stringify({
    bench: 'webhdfs',
    sink_mib_per_s: mib(sink),
    bare_create_mib_per_s: mib(bare),
    ratio: Math.round((mib(sink) / mib(bare)) * 100) / 100,
    batch_events: BATCH,
    batches: BATCHES,
    files_per_batch: FILES,
  }),
);

// The webhdfs sink against a real HDFS (test/services): exactly once through a DataNode
// restart and a sink crash, NameNode failover, a refused path to the dead-letter, acknowledged
// file ends HDFS lost, gzip, retention.
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../core/backoff.js';
import type { LogEvent } from '../../core/event.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { webhdfsSinkOptions, type WebHdfsSinkInput } from '../../sinks/webhdfs/index.js';
import { WebHdfsSink } from '../../sinks/webhdfs/webhdfs-sink.js';
import { acquireHdfs, freePorts } from '../services/services.mjs';
import { QUIET } from './bus-harness.js';
import { op, privateHdfs, readTree, readTreeBytes, SUPER } from './webhdfs-harness.js';
import { captureLogger, tempDir } from '../support/index.js';

function events(batch: number, count: number, service = 'shop'): LogEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `b${batch}-e${i}`,
    timestamp: Date.UTC(2024, 4, 1 + (i % 2), 12),
    message: `line ${batch}/${i}`,
    service,
    module: `m${i % 3}`,
    host: 'h1',
    source: { kind: 'test' },
    fields: {},
  }));
}

/** The collector's loop: retry a failed write with backoff until it goes through. */
async function writeUntilDone(sink: WebHdfsSink, batch: LogEvent[]): Promise<number> {
  let failures = 0;
  for (;;) {
    try {
      await sink.write(batch);
      return failures;
    } catch {
      failures++;
      await sleep(Math.min(2000, 100 * 2 ** failures));
    }
  }
}

/** Event ids found in JSON lines, with how often each occurs. */
function countIds(tree: Map<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [path, text] of tree) {
    expect(path.endsWith('.inprogress'), path).toBe(false);
    for (const line of text.split('\n').filter(Boolean)) {
      const id = (JSON.parse(line) as { id: string }).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

function makeSink(options: WebHdfsSinkInput, dataDir: string, logger: Logger = silentLogger()) {
  return new WebHdfsSink(webhdfsSinkOptions.parse(options), { name: 'hdfs-test', logger, dataDir });
}

/** `count` events of one file (one service, module, host and day), ids `${prefix}${i}`. */
function oneFileEvents(prefix: string, count: number): LogEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    timestamp: Date.UTC(2024, 4, 1, 12),
    message: `line ${prefix}${i} ${'x'.repeat(60)}`,
    service: 'shop',
    module: 'web',
    host: 'h1',
    source: { kind: 'test' },
    fields: {},
  }));
}

describe('webhdfs sink: a private HDFS whose DataNode is restarted mid-stream', () => {
  const cluster = privateHdfs('hdfs-sink');

  it('every event exactly once, read back through WebHDFS by id, after a DataNode restart and a sink crash', {
    timeout: 400_000,
  }, async () => {
    const state = await tempDir('webhdfs');
    const root = `/t-${randomUUID()}`;
    const options: WebHdfsSinkInput = {
      namenodes: [cluster.url],
      root,
      encoding: 'json',
      user: SUPER,
      roll_size: '16KiB',
      request_timeout: '5s',
    };
    let sink = makeSink(options, state.dir);
    await sink.open();
    const BATCHES = 40;
    let retried = 0;
    let restarted: Promise<void> = Promise.resolve();
    for (let b = 0; b < BATCHES; b++) {
      if (b === 10) {
        // Killed while a write is on its way to it; back a few seconds later.
        const writing = writeUntilDone(sink, events(b, 200));
        await sleep(20);
        await cluster.datanode.kill();
        restarted = sleep(3000).then(() => cluster.datanode.start(QUIET));
        retried += await writing;
        continue;
      }
      if (b === 25) {
        // A crash: the sink is dropped without closing, and the last three batches come again.
        sink = makeSink(options, state.dir);
        await sink.open();
        for (const again of [22, 23, 24]) await writeUntilDone(sink, events(again, 200));
      }
      retried += await writeUntilDone(sink, events(b, 200));
    }
    await sink.close();
    await restarted;
    expect(retried).toBeGreaterThan(0); // the DataNode outage was felt

    const counts = countIds(await readTree(cluster.url, root));
    const wrong: string[] = [];
    for (let b = 0; b < BATCHES; b++)
      for (let i = 0; i < 200; i++) if (counts.get(`b${b}-e${i}`) !== 1) wrong.push(`b${b}-e${i}:${counts.get(`b${b}-e${i}`) ?? 0}`);
    expect(wrong).toEqual([]);
    expect(counts.size).toBe(BATCHES * 200);
    await state.cleanup();
  });
});

describe('webhdfs sink: the shared HDFS', () => {
  let url: string;
  let release: () => Promise<void>;
  let standby: Server;
  let standbyUrl: string;

  beforeAll(async () => {
    ({ webhdfsUrl: url, release } = await acquireHdfs());
    // A NameNode in standby answers every request with StandbyException (what Hadoop sends, 403).
    standby = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          RemoteException: { exception: 'StandbyException', message: 'Operation category WRITE is not supported in state standby' },
        }),
      );
    });
    await new Promise<void>((r) => standby.listen(0, '127.0.0.1', r));
    standbyUrl = `http://127.0.0.1:${(standby.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => standby.close(() => r()));
    await release();
  });

  it('fails over past a NameNode that is down and one that is standby', async () => {
    const [deadPort] = await freePorts(1);
    const state = await tempDir('webhdfs');
    const root = `/t-${randomUUID()}`;
    const sink = makeSink({ namenodes: [`http://127.0.0.1:${deadPort}`, standbyUrl, url], root, encoding: 'json', user: SUPER }, state.dir);
    await sink.open();
    for (let b = 0; b < 3; b++) await sink.write(events(b, 100));
    await sink.close();
    const counts = countIds(await readTree(url, root));
    expect(counts.size).toBe(300);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    await state.cleanup();
  });

  it('refuses the events of a path HDFS refuses (for the dead-letter) and writes the rest', async () => {
    const root = `/t-${randomUUID()}`;
    // The sink writes as an ordinary user; one service's directory belongs to the superuser.
    expect((await op(url, 'PUT', root, 'op=MKDIRS&permission=777')).status).toBe(200);
    expect((await op(url, 'PUT', `${root}/locked`, 'op=MKDIRS&permission=755')).status).toBe(200);
    const state = await tempDir('webhdfs');
    const sink = makeSink({ namenodes: [url], root, encoding: 'json', user: 'sluice-test' }, state.dir);
    await sink.open();
    const { refused: dead, retry } = await sink.write([...events(0, 50, 'open'), ...events(1, 30, 'locked')]);
    await sink.close();
    expect(retry).toEqual([]);
    expect(dead).toHaveLength(30);
    expect(dead[0]!.reason).toMatch(/AccessControlException/);
    expect(new Set(dead.map((d) => d.event.service))).toEqual(new Set(['locked']));
    const counts = countIds(await readTree(url, root));
    expect(counts.size).toBe(50);
    await state.cleanup();
  });

  it('refuses the events of a directory HDFS will not list (for the dead-letter) and writes the rest', async () => {
    const root = `/t-${randomUUID()}`;
    // The day directory exists, inside one the sink's user may not enter.
    expect((await op(url, 'PUT', root, 'op=MKDIRS&permission=777')).status).toBe(200);
    expect((await op(url, 'PUT', `${root}/hidden/m0/2024-05-01`, 'op=MKDIRS&permission=777')).status).toBe(200);
    expect((await op(url, 'PUT', `${root}/hidden`, 'op=SETPERMISSION&permission=700')).status).toBe(200);
    const state = await tempDir('webhdfs');
    const sink = makeSink({ namenodes: [url], root, encoding: 'json', user: 'sluice-test' }, state.dir);
    await sink.open();
    const { refused: dead, retry } = await sink.write([...events(0, 50, 'open'), ...events(1, 30, 'hidden')]);
    await sink.close();
    expect(retry).toEqual([]);
    expect(dead).toHaveLength(30);
    expect(dead[0]!.reason).toMatch(new RegExp(`^HDFS refuses ${root}/hidden/m[0-2]/2024-05-0[12]: .*AccessControlException`));
    expect(countIds(await readTree(url, `${root}/open`)).size).toBe(50);
    await state.cleanup();
  });

  it('still finishes a file holding acknowledged lines once HDFS refuses its appends', async () => {
    const root = `/t-${randomUUID()}`;
    expect((await op(url, 'PUT', root, 'op=MKDIRS&permission=777')).status).toBe(200);
    const state = await tempDir('webhdfs');
    const sink = makeSink({ namenodes: [url], root, encoding: 'json', user: 'sluice-test', idle_timeout: 0, roll_age: 0 }, state.dir);
    await sink.open();
    await sink.write(oneFileEvents('a', 20));
    // The file's permissions change under the sink: its appends are refused from now on.
    const path = `${root}/shop/web/2024-05-01/.h1.000001.log.inprogress`;
    expect((await op(url, 'PUT', path, 'op=SETPERMISSION&permission=444')).status).toBe(200);
    const { refused } = await sink.write(oneFileEvents('b', 20));
    expect(refused).toHaveLength(20);
    await sink.close();
    // Finished (countIds fails on an in-progress name), with the lines acknowledged before.
    const counts = countIds(await readTree(url, root));
    expect([...counts.keys()].sort()).toEqual(
      oneFileEvents('a', 20)
        .map((e) => e.id)
        .sort(),
    );
    await state.cleanup();
  });

  it('appends a batch once when the check after its append to a settled file fails', async () => {
    const root = `/t-${randomUUID()}`;
    const state = await tempDir('webhdfs');
    const sink = makeSink({ namenodes: [url], root, encoding: 'json', user: SUPER, idle_timeout: 0, roll_age: 0 }, state.dir);
    await sink.open();
    await sink.write(oneFileEvents('a', 50));
    const client = Reflect.get(sink, 'client') as {
      append(path: string, data: Buffer): Promise<void>;
      getFileStatus(path: string): Promise<unknown>;
    };
    const append = client.append.bind(client);
    const status = client.getFileStatus.bind(client);
    // An append that fails leaves the file to be settled before the next one.
    client.append = async () => {
      throw new Error('socket hang up (injected)');
    };
    const batch = oneFileEvents('b', 50);
    await expect(sink.write(batch)).rejects.toThrow(/injected/);
    // The retry settles the file and appends; the status read that checks the append then fails.
    let failNextStatus = false;
    client.append = async (path, data) => {
      await append(path, data);
      if (data.length > 0) failNextStatus = true;
    };
    client.getFileStatus = async (path) => {
      if (!failNextStatus) return status(path);
      failNextStatus = false;
      throw new Error('socket hang up (injected)');
    };
    await expect(sink.write(batch)).rejects.toThrow(/injected/);
    client.append = append;
    client.getFileStatus = status;
    // The next retries must cut that append off before writing the batch again (a truncate
    // waits for HDFS to recover the file's last block: the collector's loop retries).
    await writeUntilDone(sink, batch);
    await sink.close();
    const counts = countIds(await readTree(url, root));
    expect(counts.size).toBe(100);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    await state.cleanup();
  });

  /**
   * A sink crashes; then HDFS comes back with the in-progress file shorter than acknowledged
   * (what a DataNode that died mid-append does to the last checksum chunk; here cut with
   * TRUNCATE as the superuser). The restarted sink writes the missing end again from the
   * journal's copy of the file's last 4 KiB; when more is missing it says so, counts it, and
   * still finishes the file.
   */
  async function crashThenCut(cut: number) {
    const root = `/t-${randomUUID()}`;
    const state = await tempDir('webhdfs');
    const options: WebHdfsSinkInput = { namenodes: [url], root, encoding: 'json', user: SUPER, idle_timeout: 0, roll_age: 0 };
    const first = makeSink(options, state.dir);
    await first.open();
    await first.write(oneFileEvents('a', 100));
    await first.write(oneFileEvents('b', 100));
    // The crash: `first` is dropped without closing.
    const dir = `${root}/shop/web/2024-05-01`;
    const path = `${dir}/.h1.000001.log.inprogress`;
    const length = ((await (await op(url, 'GET', path, 'op=GETFILESTATUS')).json()) as { FileStatus: { length: number } }).FileStatus
      .length;
    expect((await op(url, 'POST', path, `op=TRUNCATE&newlength=${length - cut}`)).status).toBe(200);
    const { logger, lines } = captureLogger();
    const second = makeSink(options, state.dir, logger);
    await second.open();
    await writeUntilDone(second, [...oneFileEvents('b', 100), ...oneFileEvents('c', 100)]);
    await second.close();
    const tree = await readTree(url, root);
    await state.cleanup();
    return { tree, lines, length };
  }

  it('writes again the end of an acknowledged write HDFS lost, from the journal, after a crash', async () => {
    const { tree, lines } = await crashThenCut(1000);
    const counts = countIds(tree);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(300);
    expect(lines.map((l) => l.msg)).toContain(
      'HDFS lost the end of an acknowledged write (a DataNode died mid-append); writing those bytes again',
    );
  });

  it('reports acknowledged bytes it cannot write again, and still finishes the file', async () => {
    const { tree, lines, length } = await crashThenCut(6000);
    expect([...tree.keys()].filter((p) => p.endsWith('.inprogress'))).toEqual([]);
    const lost = lines.find((l) => l.lost_bytes !== undefined);
    expect(lost).toMatchObject({ level: 50, acknowledged: length, length: length - 6000, lost_bytes: 6000 });
    // The cut may have split a line: what is left of the first file ends at the cut.
    const first = tree.get(`${[...tree.keys()].find((p) => p.endsWith('h1.000001.log'))}`)!;
    expect(first.length).toBe(length - 6000);
    const ids = new Set<string>();
    for (const text of tree.values()) {
      const lines = text.split('\n');
      lines.pop(); // '' after the last newline, or the line the cut went through
      for (const line of lines) {
        const id = (JSON.parse(line) as { id: string }).id;
        expect(ids.has(id)).toBe(false);
        ids.add(id);
      }
    }
    // Everything after the cut arrived: c* whole, and nothing twice.
    expect([...ids].filter((id) => id.startsWith('c'))).toHaveLength(100);
  });

  it('writes gzip files of one member per batch that read back whole, every event once', async () => {
    const root = `/t-${randomUUID()}`;
    const state = await tempDir('webhdfs');
    const sink = makeSink({ namenodes: [url], root, encoding: 'json', user: SUPER, compression: 'gzip', gzip_level: 1 }, state.dir);
    await sink.open();
    for (let b = 0; b < 3; b++) await sink.write(events(b, 120));
    await sink.close();
    const tree = await readTreeBytes(url, root);
    expect([...tree.keys()].every((p) => p.endsWith('.000001.log.gz'))).toBe(true);
    expect(tree.size).toBe(6);
    const counts = countIds(new Map([...tree].map(([p, gz]) => [p, gunzipSync(gz).toString('utf8')])));
    expect(counts.size).toBe(360);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    await state.cleanup();
  });

  it('puts events beyond max_event_age / max_future in the day of their arrival, marked, keeping their own time', async () => {
    const root = `/t-${randomUUID()}`;
    const state = await tempDir('webhdfs');
    const sink = makeSink(
      {
        namenodes: [url],
        root,
        encoding: 'json',
        user: SUPER,
        path: '{service}/%Y-%m-%d/{host}.log',
        max_event_age: '7d',
        max_future: '1h',
      },
      state.dir,
    );
    const now = Date.now();
    const at = (id: string, timestamp: number): LogEvent => ({ ...events(0, 1)[0]!, id, timestamp });
    await sink.open();
    await sink.write([at('old', Date.UTC(2015, 0, 2)), at('now', now), at('future', Date.UTC(2099, 0, 1)), at('recent', now - 86_400_000)]);
    await sink.close();
    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    const found = new Map<string, { day: string; fields: Record<string, unknown> }>();
    for (const [path, text] of await readTree(url, root))
      for (const line of text.split('\n').filter(Boolean)) {
        const e = JSON.parse(line) as { id: string; timestamp: number; fields: Record<string, unknown> };
        found.set(e.id, { day: path.split('/')[3]!, fields: e.fields });
        if (e.id === 'old') expect(e.timestamp).toBe(Date.UTC(2015, 0, 2));
      }
    expect(found.size).toBe(4);
    // The arrival's day (a run crossing midnight may see the next one).
    const arrivalDays = [day(now), day(Date.now())];
    for (const id of ['old', 'future']) {
      expect(arrivalDays).toContain(found.get(id)!.day);
      expect(found.get(id)!.fields['log.time_partition']).toBeDefined();
    }
    expect(found.get('recent')).toEqual({ day: day(now - 86_400_000), fields: {} });
    expect(arrivalDays).toContain(found.get('now')!.day);
    await state.cleanup();
  });

  it('writes over HTTPS to NameNodes and DataNodes with the CA of tls.ca_file, and refuses a certificate it cannot verify', async () => {
    // HDFS here speaks HTTP: a TLS proxy in front of it serves the NameNode at / and each
    // DataNode at /dn/<port>/, rewriting the NameNode's redirects to go through it as well.
    const certs = await tempDir('webhdfs-tls');
    const keyFile = join(certs.dir, 'key.pem');
    const caFile = join(certs.dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        caFile,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    let port = 0;
    const proxy = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(caFile) }, (req, res) => {
      const dn = /^\/dn\/(\d+)(\/.*)$/.exec(req.url!);
      const target = dn ? `http://127.0.0.1:${dn[1]}${dn[2]}` : `${url}${req.url}`;
      const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (r) => {
        const headers = { ...r.headers };
        if (headers.location) {
          const l = new URL(headers.location);
          headers.location = `https://127.0.0.1:${port}/dn/${l.port}${l.pathname}${l.search}`;
        }
        res.writeHead(r.statusCode ?? 502, headers);
        r.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    port = (proxy.address() as AddressInfo).port;
    try {
      const root = `/t-${randomUUID()}`;
      const state = await tempDir('webhdfs');
      const options = { namenodes: [`https://127.0.0.1:${port}`], root, encoding: 'json' as const, user: SUPER, request_timeout: '10s' };
      const untrusted = makeSink(options, state.dir);
      await untrusted.open();
      await expect(untrusted.write(events(0, 10))).rejects.toThrow(/self[- ]signed certificate/);
      await untrusted.close();
      const sink = makeSink({ ...options, tls: { ca_file: caFile } }, state.dir);
      await sink.open();
      for (let b = 0; b < 2; b++) await sink.write(events(b, 100));
      await sink.close();
      const counts = countIds(await readTree(url, root));
      expect(counts.size).toBe(200);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      await state.cleanup();
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await certs.cleanup();
    }
  });

  it('retention deletes the day directories older than retention_days on HDFS', async () => {
    const root = `/t-${randomUUID()}`;
    const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
    for (const d of [day(0), day(1), day(2), day(5)]) expect((await op(url, 'PUT', `${root}/shop/web/${d}`, 'op=MKDIRS')).status).toBe(200);
    expect((await op(url, 'PUT', `${root}/shop/web/not-a-day`, 'op=MKDIRS')).status).toBe(200);
    const state = await tempDir('webhdfs');
    const sink = makeSink({ namenodes: [url], root, user: SUPER, retention_days: 2 }, state.dir);
    await sink.open();
    // Retention runs once at open too; whichever pass deletes them, the old days must be gone.
    await sink.applyRetention();
    await sink.close();
    const left = (await (await op(url, 'GET', `${root}/shop/web`, 'op=LISTSTATUS')).json()) as {
      FileStatuses: { FileStatus: { pathSuffix: string }[] };
    };
    expect(left.FileStatuses.FileStatus.map((s) => s.pathSuffix).sort()).toEqual([day(1), day(0), 'not-a-day'].sort());
    await state.cleanup();
  });

  it("a lane taken over does not settle another lane's file that reuses the name of one it finished before its folder was removed", async () => {
    const root = `/t-${randomUUID()}`;
    const options = { namenodes: [url], root, encoding: 'json' as const, user: SUPER, idle_timeout: 0, roll_age: 0 };
    const [x, y, z] = await Promise.all([tempDir('webhdfs-x'), tempDir('webhdfs-y'), tempDir('webhdfs-z')]);
    // Collector X writes partition 0 into a file and finishes it (a roll, or its close).
    const sinkX = makeSink(options, x.dir);
    await sinkX.open();
    await sinkX.write(oneFileEvents('a', 20), 'logs+0');
    await sinkX.close();
    // Retention (or a downstream job) removes the day; a late event of partition 1, written
    // by collector Y, makes the folder again and its first file takes the same name.
    expect((await op(url, 'DELETE', `${root}/shop/web/2024-05-01`, 'op=DELETE&recursive=true')).status).toBe(200);
    const sinkY = makeSink(options, y.dir);
    await sinkY.open();
    await sinkY.write(oneFileEvents('b', 40), 'logs+1');
    // Collector Z takes partition 0 over from X's ledger, which named that path once.
    const sinkZ = makeSink(options, z.dir);
    await sinkZ.open();
    await sinkZ.write(oneFileEvents('c', 5), 'logs+0');
    await sinkZ.close();
    // Y's file is still its own: it goes on writing it and finishes it whole.
    await writeUntilDone(sinkY, oneFileEvents('d', 10));
    await sinkY.close();
    const counts = countIds(await readTree(url, root));
    const expected = [...oneFileEvents('b', 40), ...oneFileEvents('c', 5), ...oneFileEvents('d', 10)].map((e) => e.id).sort();
    expect([...counts.keys()].sort()).toEqual(expected);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    await Promise.all([x.cleanup(), y.cleanup(), z.cleanup()]);
  });
});

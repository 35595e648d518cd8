// What the webhdfs integration tests share: an HDFS of their own, WebHDFS requests as the
// superuser, reading a tree back through WebHDFS and a collector writing into it.
import { afterAll, beforeAll } from 'vitest';
import { HdfsService, hdfs } from '../services/services.mjs';
import { QUIET, collectorYaml } from './bus-harness.js';

/** The user whose WebHDFS requests act as the HDFS superuser (the one running the NameNode). */
export const SUPER = hdfs.superuser;

export async function op(base: string, method: string, path: string, query: string, user = SUPER): Promise<Response> {
  return fetch(`${base}/webhdfs/v1${path}?${query}&user.name=${user}`, { method });
}

/**
 * An HDFS of the test's own (a NameNode and a DataNode on free ports), started before the
 * tests of the describe block it is made in and destroyed after them: its DataNode can be
 * killed without disturbing other test runs.
 */
export function privateHdfs(name: string): HdfsService {
  const cluster = new HdfsService({
    name: `${name}-${process.pid}`,
    httpPort: 0,
    rpcPort: 0,
    dataPort: 0,
    dataHttpPort: 0,
    dataIpcPort: 0,
  });
  beforeAll(() => cluster.start(QUIET));
  afterAll(() => cluster.destroy());
  return cluster;
}

/** Every file under `dir` (recursively), with its content read through WebHDFS. */
export async function readTree(base: string, dir: string): Promise<Map<string, string>> {
  const bytes = await readTreeBytes(base, dir);
  return new Map([...bytes].map(([p, b]) => [p, b.toString('utf8')]));
}

/**
 * Every file of the tree under `dir` (recursively), with its bytes read through WebHDFS; a
 * file gone between listing and reading is left out, and so is the sink's own state
 * (`.sluice/`: the lanes' ledgers).
 */
export async function readTreeBytes(base: string, dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    const res = await op(base, 'GET', d, 'op=LISTSTATUS');
    if (res.status === 404) return;
    const list = (await res.json()) as { FileStatuses: { FileStatus: { pathSuffix: string; type: string }[] } };
    for (const s of list.FileStatuses.FileStatus) {
      const p = `${d}/${s.pathSuffix}`;
      if (s.type === 'DIRECTORY') {
        if (s.pathSuffix !== '.sluice') await walk(p);
      } else {
        const body = await readFile(base, p);
        // Gone since the listing (an in-progress file the sink just renamed): the next look finds it.
        if (body !== undefined) out.set(p, body);
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * One file's bytes, undefined when it is gone. A file the sink is appending to can be cut short
 * in the middle of a read (the DataNode announced a length, then the block under construction
 * moved on); such a read is tried again, a few times, before it counts as a failure.
 */
async function readFile(base: string, path: string): Promise<Buffer | undefined> {
  for (let attempt = 1; ; attempt++) {
    const file = await op(base, 'GET', path, 'op=OPEN');
    if (file.status === 404) return undefined;
    if (file.status !== 200) throw new Error(`OPEN ${path}: HTTP ${file.status} ${await file.text()}`);
    try {
      return Buffer.from(await file.arrayBuffer());
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code !== 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || attempt === 5) throw new Error(`OPEN ${path}: body cut short`, { cause: err });
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Bytes in the files under `dir` (0 when it does not exist yet). */
export async function bytesUnder(base: string, dir: string): Promise<number> {
  const res = await op(base, 'GET', dir, 'op=GETCONTENTSUMMARY');
  if (res.status === 404) return 0;
  return ((await res.json()) as { ContentSummary: { length: number } }).ContentSummary.length;
}

/** Times each event number ("ev-<n> ...") occurs in the tree's JSON lines; in-progress file names found. */
export function countEvents(tree: Map<string, string>): { counts: Map<number, number>; total: number; inProgress: string[] } {
  const counts = new Map<number, number>();
  let total = 0;
  for (const text of tree.values())
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const n = Number(/^ev-(\d+) /.exec((JSON.parse(line) as { message: string }).message)![1]);
      counts.set(n, (counts.get(n) ?? 0) + 1);
      total++;
    }
  return { counts, total, inProgress: [...tree.keys()].filter((p) => p.endsWith('.inprogress')) };
}

/** A collector behind Kafka writing a JSON-lines tree into HDFS, files finished (renamed) every 512KiB. */
export function webhdfsCollectorYaml(c: {
  dataDir: string;
  brokers: string;
  namenode: string;
  root: string;
  topic: string;
  group: string;
}): string {
  return collectorYaml({
    ...c,
    sinks: {
      hdfs: {
        type: 'webhdfs',
        namenodes: [c.namenode],
        user: SUPER,
        root: c.root,
        path: '{service}/{module}/%Y-%m-%d/{host}.log',
        encoding: 'json',
        roll_size: '512KiB',
        request_timeout: '5s',
      },
    },
  });
}

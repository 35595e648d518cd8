// Two collectors of one consumer group writing one HDFS tree: B joins mid-stream (the group
// rebalances, partitions move from A to B), then A is SIGKILLed in the middle of its writes
// (its partitions move to B with batches A wrote and never committed). Every event must be
// in HDFS exactly once, read back through WebHDFS and counted by event.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireHdfs } from '../services/services.mjs';
import { AUTO_CLIENT, agentYaml, appendEvents, type Sluice, waitFor, workspace } from './bus-harness.js';
import { bytesUnder, countEvents, readTree, webhdfsCollectorYaml } from './webhdfs-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const { setup, start } = workspace('sluice-webhdfs-rebalance-');

/** Lanes a collector took over from another one (or from its own earlier run). */
function takeovers(log: string): number {
  return [...log.matchAll(/"msg":"took over a lane/g)].length;
}

describe('webhdfs sink, two collectors in one group: a rebalance and a SIGKILL hand partitions over', () => {
  let url = '';
  let release: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    ({ webhdfsUrl: url, release } = await acquireHdfs());
  }, 300_000);
  afterAll(() => release());

  it('holds every event exactly once when B joins mid-stream and A is then SIGKILLed mid-write', { timeout: 900_000 }, async () => {
    const { dir, topic, group } = setup('rebalance');
    const root = `/rebalance-${randomUUID()}`;
    let written = 0;
    // Eight modules: their keys spread over the topic's four partitions.
    const write = (count: number) => {
      for (let i = 0; i < 8; i++) appendEvents(join(dir, 'logs', `m${i}.log`), written + (i * count) / 8, count / 8);
      written += count;
    };
    let b: Sluice | undefined;
    const agent = start(
      'agent',
      dir,
      'agent',
      agentYaml({ client: AUTO_CLIENT, dataDir: join(dir, 'agent'), logGlob: join(dir, 'logs', '*.log'), brokers, topic }),
    );
    // A steady stream, so that both collectors are writing when B joins and when A dies.
    write(8000);
    const stream = setInterval(() => write(400), 500);
    try {
      const a = start(
        'collector',
        dir,
        'collector-a',
        webhdfsCollectorYaml({ dataDir: join(dir, 'a'), brokers, namenode: url, root, topic, group }),
      );
      const grown = async (what: string, by: number, who: Sluice) => {
        const before = await bytesUnder(url, root);
        await waitFor(
          what,
          async () => (await bytesUnder(url, root)) >= before + by,
          180_000,
          () => who.log().slice(-3000),
        );
      };
      // A writes every partition the keys fall on before B joins, so the rebalance moves written ones.
      await waitFor(
        'A writing two partitions',
        async () => takeovers(a.log()) >= 2,
        180_000,
        () => a.log().slice(-3000),
      );
      await grown('A writing', 3000 * 330, a);
      b = start(
        'collector',
        dir,
        'collector-b',
        webhdfsCollectorYaml({ dataDir: join(dir, 'b'), brokers, namenode: url, root, topic, group }),
      );
      const joined = b;
      await waitFor(
        'B took a partition over from A',
        async () => takeovers(joined.log()) > 0,
        180_000,
        () => joined.log().slice(-3000),
      );
      // Both write now; A dies in the middle of it, its partitions go to B after the session timeout.
      await grown('A and B writing', 2000 * 330, joined);
      await a.kill();
      const before = takeovers(joined.log());
      await waitFor(
        'B took over the partitions of A',
        async () => takeovers(joined.log()) > before,
        // After the session timeout; a partition newly assigned to B was seen to wait minutes for its first batch.
        420_000,
        () => joined.log().slice(-3000),
      );
      await grown('B writing alone', 2000 * 330, joined);
    } finally {
      clearInterval(stream);
    }
    const total = written;
    let lastBytes = -1;
    await waitFor(
      `${total} events in HDFS`,
      async () => {
        const bytes = await bytesUnder(url, root);
        if (bytes === lastBytes) return false;
        lastBytes = bytes;
        try {
          return countEvents(await readTree(url, root)).counts.size >= total;
        } catch (err) {
          if (err instanceof SyntaxError) return false; // an in-progress file read mid-append
          throw err;
        }
      },
      300_000,
      () => b!.log().slice(-3000),
    );
    expect(await agent.stop()).toBe(0);
    expect(await b!.stop()).toBe(0);
    const tree = await readTree(url, root);
    const { counts, total: lines, inProgress } = countEvents(tree);
    const missing: number[] = [];
    for (let n = 0; n < total; n++) if (!counts.has(n)) missing.push(n);
    const logOf = (name: string) => readFileSync(join(dir, `${name}.err`), 'utf8');
    const bLog = logOf('collector-b');
    const tookOver = takeovers(bLog);
    const skipped = [...bLog.matchAll(/"skipped":(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    const cut = [...`${logOf('collector-a')}${bLog}`.matchAll(/cutting an unacknowledged write/g)].length;
    console.log(
      `webhdfs rebalance: ${total} events in ${tree.size} files, ${lines - counts.size} duplicates; B took ${tookOver} lanes over, skipped ${skipped} events A had written, cut ${cut} unacknowledged writes `,
    );
    expect(tookOver).toBeGreaterThanOrEqual(2);
    expect(inProgress).toEqual([]);
    expect(missing).toEqual([]);
    expect(counts.size).toBe(total);
    expect(lines - counts.size).toBe(0);
    expect(bLog).not.toMatch(/lost_bytes/);
  });
});

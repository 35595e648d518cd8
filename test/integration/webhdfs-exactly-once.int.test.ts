// Exactly once into a real HDFS through the real chain: files tailed by an agent -> Kafka ->
// a collector with the webhdfs sink, the collector SIGKILLed five times mid-stream and the
// DataNode SIGKILLed and restarted once. Read back through WebHDFS and counted by event.
// A private HDFS, so killing its DataNode disturbs no other test run.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUIET, moduleWriter, type Sluice, waitFor, workspace } from './bus-harness.js';
import { bytesUnder, countEvents, privateHdfs, readTree, webhdfsCollectorYaml } from './webhdfs-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const KILLS = 5;
const { setup, start } = workspace('sluice-webhdfs-eo-', brokers);

describe('webhdfs sink behind Kafka: the collector SIGKILLed, the DataNode restarted', () => {
  const cluster = privateHdfs('hdfs-eo');

  it(`holds every event exactly once after ${KILLS} collector SIGKILLs and a DataNode restart`, { timeout: 900_000 }, async () => {
    const scenario = setup('collector-kills');
    const { dir, topic, group } = scenario;
    const root = `/eo-${randomUUID()}`;
    const events = moduleWriter(dir);
    const agent = scenario.agent();
    const yaml = webhdfsCollectorYaml({ dataDir: join(dir, 'c'), brokers, namenode: cluster.url, root, topic, group });
    events.write(60_000); // 100,000 in all with the 8,000 after each kill
    let collector: Sluice = start('collector', dir, 'collector-0', yaml);
    for (let k = 1; k <= KILLS; k++) {
      // About 2,000 more events' worth of bytes (JSON lines of ~330 bytes) since the last start.
      const before = await bytesUnder(cluster.url, root);
      await waitFor(
        `events written after start ${k}`,
        async () => (await bytesUnder(cluster.url, root)) >= before + 2000 * 330,
        180_000,
        () => collector.log().slice(-3000),
      );
      if (k === 3) {
        // The DataNode dies under the collector's appends and is back a few seconds later.
        await cluster.datanode.kill();
        await new Promise((r) => setTimeout(r, 3000));
        await cluster.datanode.start(QUIET);
      }
      await collector.kill();
      events.write(8000);
      collector = start('collector', dir, `collector-${k}`, yaml);
    }
    const total = events.written;
    let lastBytes = -1;
    let seen = 0;
    let unreadable = '';
    await waitFor(
      `${total} events in HDFS`,
      async () => {
        // Reading the whole tree back is costly: only when something was added since the last look.
        const bytes = await bytesUnder(cluster.url, root);
        if (bytes === lastBytes) return false;
        try {
          seen = countEvents(await readTree(cluster.url, root)).counts.size;
          unreadable = '';
        } catch (err) {
          // An in-progress file read in the middle of an append can end in part of a line: read again next time.
          if (err instanceof SyntaxError) {
            unreadable = err.message;
            return false;
          }
          throw err;
        }
        lastBytes = bytes;
        return seen >= total;
      },
      300_000,
      () => `${seen} events read back${unreadable ? ` (last read: ${unreadable})` : ''}\n${collector.log().slice(-3000)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    const tree = await readTree(cluster.url, root);
    const { counts, total: lines, inProgress } = countEvents(tree);
    const missing: number[] = [];
    for (let n = 0; n < total; n++) if (!counts.has(n)) missing.push(n);
    const logs = readdirSync(dir)
      .filter((f) => /^collector-\d+\.err$/.test(f))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('');
    const skipped = [...logs.matchAll(/"skipped":(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    const recovered = logs.match(/finished an in-progress HDFS file left by a previous run/g)?.length ?? 0;
    const restored = logs.match(/HDFS lost the end of an acknowledged write/g)?.length ?? 0;
    console.log(
      `webhdfs sink, ${KILLS} collector kills and a DataNode restart: ${total} events in ${tree.size} files, ${lines - counts.size} duplicates; ${skipped} redelivered events skipped, ${recovered} in-progress files finished at restart, ${restored} ends restored`,
    );
    expect(inProgress).toEqual([]);
    expect(missing).toEqual([]);
    expect(counts.size).toBe(total);
    expect(lines - counts.size).toBe(0);
    expect(logs).not.toMatch(/lost_bytes/);
  });
});

// Exactly once through the real chain: files tailed by an agent -> Kafka -> a collector
// writing the file tree, with the collector SIGKILLed again and again mid-stream; and the
// same through `sluice run` (tailer -> disk channel -> file sink in one process), SIGKILLed.
// Each restart reads again what was written but not committed (Kafka offsets, the channel's
// sequence); the file sink's write journal cuts unacknowledged bytes off the in-progress
// files and skips events it has already written, so the tree holds every event exactly once.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AUTO_CLIENT,
  agentYaml,
  appendEvents,
  collectorYaml as harnessCollectorYaml,
  lossAndDuplicates,
  Sluice,
  tally,
  waitFor,
  workspace,
} from './bus-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const KILLS = 5;
const { setup, start } = workspace('sluice-file-eo-');

function collectorYaml(dataDir: string, root: string, topic: string, group: string): string {
  return harnessCollectorYaml({
    dataDir,
    brokers,
    topic,
    group,
    sinks: [
      '  tree:',
      '    type: file',
      `    root: ${root}`,
      '    path: "{service}/{module}/%Y-%m-%d/{host}.log"',
      '    encoding: json',
      '    roll_size: 256KiB', // many files finished (renamed) between the kills
    ],
  });
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('file sink behind Kafka: a collector SIGKILLed mid-stream', () => {
  it(`holds every event exactly once after ${KILLS} SIGKILLs of the collector`, { timeout: 600_000 }, async () => {
    const { dir, topic, group } = setup('collector-kills');
    const root = join(dir, 'tree');
    let written = 0;
    const write = (count: number) => {
      // Eight module files, so the events spread over the partitions and over many tree files.
      for (let i = 0; i < 8; i++) appendEvents(join(dir, 'logs', `m${i}.log`), written + (i * count) / 8, count / 8);
      written += count;
    };
    const seen = () => (readdirSync(dir).includes('tree') ? tally(filesUnder(root)).counts.size : 0);
    const agent = start(
      'agent',
      dir,
      'agent',
      agentYaml({ client: AUTO_CLIENT, dataDir: join(dir, 'a'), logGlob: join(dir, 'logs', '*.log'), brokers, topic }),
    );
    const yaml = collectorYaml(join(dir, 'c'), root, topic, group);
    write(60_000); // 100,000 in all with the 8,000 after each kill
    let collector = start('collector', dir, 'collector-0', yaml);
    for (let k = 1; k <= KILLS; k++) {
      const before = seen();
      await waitFor(
        `events written after start ${k}`,
        () => seen() >= before + 2000,
        120_000,
        () => collector.log().slice(-3000),
      );
      await collector.kill();
      write(8000);
      collector = start('collector', dir, `collector-${k}`, yaml);
    }
    const total = written;
    await waitFor(
      `${total} events in the tree`,
      () => seen() >= total,
      180_000,
      () => `${seen()} so far\n${collector.log().slice(-3000)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    const files = filesUnder(root);
    expect(files.filter((f) => f.endsWith('.inprogress'))).toEqual([]);
    const result = lossAndDuplicates(tally(files), total);
    // What the restarts found: events written before a kill but never committed to Kafka (read
    // again and skipped by id) and in-progress files cut back to their journaled length.
    const logs = readdirSync(dir)
      .filter((f) => /^collector-\d+\.err$/.test(f))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('');
    const skipped = [...logs.matchAll(/"skipped":(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    const cut = [...logs.matchAll(/"cut_bytes":(\d+)/g)].length;
    console.log(
      `file sink, ${KILLS} collector kills: ${total} events in ${files.length} files, ${result.duplicates} duplicates; ${skipped} redelivered events skipped, ${cut} in-progress files cut back`,
    );
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toBe(0);
    expect(result.duplicates).toBe(0);
  });

  it(`holds every event exactly once after ${KILLS} SIGKILLs of sluice run`, { timeout: 600_000 }, async () => {
    const { dir } = setup('run-kills');
    const root = join(dir, 'tree');
    let written = 0;
    const write = (count: number) => {
      for (let i = 0; i < 8; i++) appendEvents(join(dir, 'logs', `m${i}.log`), written + (i * count) / 8, count / 8);
      written += count;
    };
    const seen = () => (readdirSync(dir).includes('tree') ? tally(filesUnder(root)).counts.size : 0);
    // Progress by bytes (a stat per file), not by parsing the tree: sluice run is fast, and a
    // kill must land while it is writing, not after it caught up.
    const bytes = () => (readdirSync(dir).includes('tree') ? filesUnder(root).reduce((n, f) => n + statSync(f).size, 0) : 0);
    const config = join(dir, 'run.yaml');
    writeFileSync(
      config,
      [
        `data_dir: ${join(dir, 'state')}`,
        'log: { level: info }',
        'sources:',
        '  app:',
        '    type: file',
        `    include: ["${join(dir, 'logs', '*.log')}"]`,
        '    start_at: beginning',
        '    service: shop',
        '    poll_interval: 50ms',
        '    checkpoint_interval: 100ms',
        'channel:',
        '  type: disk',
        '  segment_bytes: 1MiB',
        'sinks:',
        '  tree:',
        '    type: file',
        `    root: ${root}`,
        '    path: "{service}/{module}/%Y-%m-%d/{host}.log"',
        '    encoding: json',
        '    roll_size: 256KiB',
        '',
      ].join('\n'),
    );
    const runs: Sluice[] = [];
    const startRun = (k: number) => {
      const p = new Sluice('run', config, join(dir, `run-${k}.out`), join(dir, `run-${k}.err`));
      runs.push(p);
      return p;
    };
    write(60_000); // 100,000 in all with the 8,000 after each kill
    let run = startRun(0);
    try {
      for (let k = 1; k <= KILLS; k++) {
        const before = bytes();
        await waitFor(
          `events written after start ${k}`,
          () => bytes() >= before + 2000 * 330,
          120_000,
          () => run.log().slice(-3000),
        );
        await run.kill();
        write(8000);
        run = startRun(k);
      }
      const total = written;
      await waitFor(
        `${total} events in the tree`,
        () => seen() >= total,
        180_000,
        () => `${seen()} so far\n${run.log().slice(-3000)}`,
      );
      expect(await run.stop()).toBe(0);
      const files = filesUnder(root);
      expect(files.filter((f) => f.endsWith('.inprogress'))).toEqual([]);
      const result = lossAndDuplicates(tally(files), total);
      const logs = runs.map((r) => r.log()).join('');
      const skipped = [...logs.matchAll(/"skipped":(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      const cut = [...logs.matchAll(/"cut_bytes":(\d+)/g)].length;
      console.log(
        `file sink, ${KILLS} sluice run kills: ${total} events in ${files.length} files, ${result.duplicates} duplicates; ${skipped} redelivered events skipped, ${cut} in-progress files cut back`,
      );
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toBe(0);
      expect(result.duplicates).toBe(0);
    } finally {
      await Promise.all(runs.map((r) => r.kill()));
    }
  });
});

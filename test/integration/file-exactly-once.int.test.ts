// Exactly once through the real chain: files tailed by an agent -> Kafka -> a collector
// writing the file tree, with the collector SIGKILLed again and again mid-stream; and the
// same through `sluice run` (tailer -> disk channel -> file sink in one process), SIGKILLed.
// Each restart reads again what was written but not committed (Kafka offsets, the channel's
// sequence); the file sink's write journal cuts unacknowledged bytes off the in-progress
// files and skips events it has already written, so the tree holds every event exactly once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lossAndDuplicates, moduleWriter, type Section, type Sluice, tally, waitFor, workspace } from './bus-harness.js';

const KILLS = 5;
const { setup } = workspace('sluice-file-eo-');

/** The file tree every scenario writes, many files finished (renamed) between the kills. */
const treeSink = (root: string): Section => ({
  tree: { type: 'file', root, path: '{service}/{module}/%Y-%m-%d/{host}.log', encoding: 'json', roll_size: '256KiB' },
});

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** The bytes of `file`, 0 if it is gone: the sink renames in-progress files as it finishes them. */
function sizeIfPresent(file: string): number {
  try {
    return statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** A scenario: its tree, events written over eight module files, and how many distinct ones the tree holds. */
function scenario(name: string) {
  const s = setup(name);
  const root = join(s.dir, 'tree');
  const seen = () => (readdirSync(s.dir).includes('tree') ? tally(filesUnder(root)).counts.size : 0);
  return { ...s, root, events: moduleWriter(s.dir), seen };
}

/**
 * The tree holds every one of `total` events once and no file in progress. What the restarts
 * found is reported: events written before a kill but never committed (read again and skipped
 * by id) and in-progress files cut back to their journaled length.
 */
function expectExactlyOnce(what: string, root: string, total: number, logs: string): void {
  const files = filesUnder(root);
  expect(files.filter((f) => f.endsWith('.inprogress'))).toEqual([]);
  const result = lossAndDuplicates(tally(files), total);
  const skipped = [...logs.matchAll(/"skipped":(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const cut = [...logs.matchAll(/"cut_bytes":(\d+)/g)].length;
  console.log(
    `file sink, ${KILLS} ${what} kills: ${total} events in ${files.length} files, ${result.duplicates} duplicates; ${skipped} redelivered events skipped, ${cut} in-progress files cut back`,
  );
  expect(result.missing).toEqual([]);
  expect(result.unexpected).toBe(0);
  expect(result.duplicates).toBe(0);
}

/** The stderr of every process whose log file name matches `name`, in one text. */
const logsOf = (dir: string, name: RegExp): string =>
  readdirSync(dir)
    .filter((f) => name.test(f))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');

/**
 * Writes 60,000 events, starts the process, and KILLS times waits until it has written some
 * more (`progress` grew by `step`), SIGKILLs it, writes 8,000 more events (100,000 in all)
 * and starts it again. Resolves once the tree holds them all, with the last process (running).
 */
async function killedMidStream(
  s: ReturnType<typeof scenario>,
  start: (k: number) => Sluice,
  progress: () => number,
  step: number,
): Promise<{ last: Sluice; total: number }> {
  s.events.write(60_000);
  let p = start(0);
  for (let k = 1; k <= KILLS; k++) {
    const before = progress();
    await waitFor(
      `events written after start ${k}`,
      () => progress() >= before + step,
      120_000,
      () => p.log().slice(-3000),
    );
    await p.kill();
    s.events.write(8000);
    p = start(k);
  }
  const total = s.events.written;
  await waitFor(
    `${total} events in the tree`,
    () => s.seen() >= total,
    180_000,
    () => `${s.seen()} so far\n${p.log().slice(-3000)}`,
  );
  return { last: p, total };
}

describe('file sink behind Kafka: a collector SIGKILLed mid-stream', () => {
  it(`holds every event exactly once after ${KILLS} SIGKILLs of the collector`, { timeout: 600_000 }, async () => {
    const s = scenario('collector-kills');
    const { dir, root } = s;
    const agent = s.agent();
    // Every start with the same data directory: the one collector, restarted.
    const startCollector = (k: number) => s.collector({ dataDir: join(dir, 'c'), sinks: treeSink(root) }, `collector-${k}`);
    const { last: collector, total } = await killedMidStream(s, startCollector, s.seen, 2000);
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    expectExactlyOnce('collector', root, total, logsOf(dir, /^collector-\d+\.err$/));
  });

  it(`holds every event exactly once after ${KILLS} SIGKILLs of sluice run`, { timeout: 600_000 }, async () => {
    const s = scenario('run-kills');
    const { dir, root } = s;
    // Progress by bytes (a stat per file), not by parsing the tree: sluice run is fast, and a
    // kill must land while it is writing, not after it caught up.
    const bytes = () => (readdirSync(dir).includes('tree') ? filesUnder(root).reduce((n, f) => n + sizeIfPresent(f), 0) : 0);
    const startRun = (k: number) => s.run({ dataDir: join(dir, 'state'), sinks: treeSink(root) }, `run-${k}`);
    const { last: run, total } = await killedMidStream(s, startRun, bytes, 2000 * 330);
    expect(await run.stop()).toBe(0);
    expectExactlyOnce('sluice run', root, total, logsOf(dir, /^run-\d+\.err$/));
  });
});

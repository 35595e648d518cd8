// A file sink whose path for one service is refused for good (its directory replaced by a
// plain file), driven by the collector as in production: every other service's event is in
// the tree exactly once, every refused one in the collector's dead-letter with a reason
// naming the path, every batch acked — also when a batch is delivered again.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.js';
import { FileDeadLetter } from '../../dead-letter/file/file-dead-letter.js';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { FileSink } from '../../sinks/file/file-sink.js';
import { fileSinkOptions } from '../../sinks/file/index.js';
import { HandConsumer, makeEvent, type TempDir, tempDir } from '../support/index.js';

/** Every line of every file under `dir`, by file, skipping `except`. */
function lines(dir: string, except: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (relative(dir, p) === except) continue;
      if (e.isDirectory()) walk(p);
      else out.push(...readFileSync(p, 'utf8').trimEnd().split('\n'));
    }
  };
  walk(dir);
  return out;
}

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir('refused-path');
});
afterEach(() => tmp.cleanup());

describe('a path refused for good, through the collector', () => {
  it('dead-letters exactly the events of the refused service; b and c are in the tree exactly once', async () => {
    const root = join(tmp.dir, 'tree');
    mkdirSync(root);
    writeFileSync(join(root, 'a'), 'a plain file where the sink needs the directory of service a');
    const sink = new FileSink(fileSinkOptions.parse({ root, path: '{service}/{module}/{host}.log', encoding: 'text' }), {
      name: 'files',
      logger: silentLogger(),
      dataDir: join(tmp.dir, 'state'),
    });
    const dlPath = join(tmp.dir, 'dead-letter.ndjson');
    const deadLetter = new FileDeadLetter(dlPath, silentLogger());
    const consumer = new HandConsumer();
    const collector = new Collector(consumer, [{ name: 'files', sink }], silentLogger(), { deadLetter });
    await collector.start();

    const services = ['a', 'b', 'c'];
    const batches: LogEvent[][] = [];
    for (let b = 0; b < 5; b++)
      batches.push(
        Array.from({ length: 600 }, (_, k) => {
          const i = b * 600 + k;
          return makeEvent({ id: `ev-${i}`, service: services[i % 3]!, module: `m${i % 4}`, host: `h${i % 2}`, message: `ev-${i}` });
        }),
      );
    for (const batch of batches) expect(await consumer.send(batch)).toBe(true);
    // Batch 2 again, as after a crash before its offsets were committed.
    expect(await consumer.send(batches[2]!)).toBe(true);
    await collector.stop();

    const all = batches.flat();
    const good = all.filter((e) => e.service !== 'a').map((e) => e.id);
    const bad = all.filter((e) => e.service === 'a').map((e) => e.id);
    expect([good.length, bad.length]).toEqual([2000, 1000]);
    // In the tree: every b and c event once, and nothing of a.
    const written = lines(root, 'a');
    expect(written.length).toBe(2000);
    expect(new Set(written).size).toBe(2000);
    expect(written.sort()).toEqual(good.sort());
    expect(readFileSync(join(root, 'a'), 'utf8')).toMatch(/^a plain file/);
    // In the dead-letter: every a event once (the redelivered batch is not dead-lettered twice), with its reason.
    const entries = readFileSync(dlPath, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; event: { id: string; service: string } });
    expect(entries.length).toBe(1000);
    expect(entries.map((e) => e.event.id).sort()).toEqual(bad.sort());
    for (const e of entries) expect(e.reason).toContain(`sinks.files: path "a/`);
    expect(entries[0]!.reason).toContain(`refusing to write under ${join(root, 'a')}: it is not a directory`);
    expect([collector.written, collector.refused]).toEqual([2400, 1200]);
  });
});

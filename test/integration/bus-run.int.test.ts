// `sluice run`: agent and collector halves in one process joined by the in-process bus, no
// Kafka. The same ack chain: the channel commits only what the sinks wrote, so a SIGKILL and
// a restart lose nothing; routes send events to their sinks and the unrouted to the dead-letter.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Sluice, appendEvents, lossAndDuplicates, tally, waitFor } from './bus-harness.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-run-'));
const running: Sluice[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.kill()));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runYaml(dir: string, extra: string[] = []): string {
  return [
    `data_dir: ${join(dir, 'data')}`,
    'sources:',
    '  app:',
    '    type: file',
    `    include: ["${join(dir, 'logs', '*.log')}"]`,
    '    start_at: beginning',
    '    service: shop',
    '    poll_interval: 50ms',
    'channel:',
    '  type: disk',
    '  segment_bytes: 1MiB',
    'sinks:',
    '  out:',
    '    type: console',
    '    encoding: json',
    ...extra,
    '',
  ].join('\n');
}

function start(dir: string, name: string, yaml: string): Sluice {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, yaml);
  const p = new Sluice('run', config, join(dir, `${name}.out`), join(dir, `${name}.err`));
  running.push(p);
  return p;
}

describe('sluice run (in-process bus)', () => {
  it('delivers every event, survives SIGKILL and a restart without loss, and stops with exit 0 on SIGTERM', async () => {
    const dir = join(root, 'e2e');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const log = join(dir, 'logs', 'app.log');
    appendEvents(log, 0, 20_000);
    const yaml = runYaml(dir);
    const first = start(dir, 'run1', yaml);
    const outs = [join(dir, 'run1.out'), join(dir, 'run2.out')];
    await waitFor(
      'events flowing',
      () => tally(outs).total > 1000,
      60_000,
      () => first.log().slice(-2000),
    );
    await first.kill();
    appendEvents(log, 20_000, 10_000);
    const second = start(dir, 'run2', yaml);
    await waitFor(
      '30000 events',
      () => tally(outs).counts.size >= 30_000,
      60_000,
      () => `${tally(outs).counts.size}\n${second.log().slice(-2000)}`,
    );
    expect(await second.stop()).toBe(0);
    const result = lossAndDuplicates(tally(outs), 30_000);
    console.log(`sluice run kill: 30000 events, ${result.duplicates} duplicates`);
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toBe(0);
  });

  it('routes events and sends those no rule accepts to the dead-letter', async () => {
    const dir = join(root, 'routes');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    appendEvents(join(dir, 'logs', 'keep.log'), 0, 300);
    appendEvents(join(dir, 'logs', 'drop.log'), 300, 200);
    const deadLetter = join(dir, 'dl.jsonl');
    const p = start(
      dir,
      'run',
      runYaml(dir, ['routes:', '  rules:', '    - match: { module: keep }', '      sinks: [out]', 'dead_letter:', `  path: ${deadLetter}`]),
    );
    const dlLines = () => {
      try {
        return readFileSync(deadLetter, 'utf8').trimEnd().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    await waitFor(
      'all events routed',
      () => tally([join(dir, 'run.out')]).counts.size >= 300 && dlLines().length >= 200,
      60_000,
      () => p.log().slice(-2000),
    );
    expect(await p.stop()).toBe(0);
    const kept = tally([join(dir, 'run.out')]);
    expect([...kept.counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(kept.total).toBe(300);
    const entries = dlLines().map((l) => JSON.parse(l) as { reason: string; event: { message: string; module: string } });
    expect(entries).toHaveLength(200);
    expect(new Set(entries.map((e) => e.reason))).toEqual(new Set(['no route accepted the event (service "shop", module "drop")']));
    expect(entries.map((e) => Number(/^ev-(\d+)/.exec(e.event.message)![1])).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, i) => 300 + i),
    );
  });
});

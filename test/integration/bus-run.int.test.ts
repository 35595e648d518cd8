// `sluice run`: agent and collector halves in one process joined by the in-process bus, no
// Kafka. The same ack chain: the channel commits only what the sinks wrote, so a SIGKILL and
// a restart lose nothing; routes send events to their sinks and the unrouted to the dead-letter.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendEvents, lossAndDuplicates, type RunConfig, runYaml, tally, waitFor, workspace } from './bus-harness.js';

const ws = workspace('sluice-run-');
/** A `sluice run` tailing the scenario's logs/ into a console sink. */
const config = (dir: string, more: Partial<RunConfig> = {}) =>
  runYaml({ dataDir: join(dir, 'data'), logGlob: join(dir, 'logs', '*.log'), ...more });
const start = (dir: string, name: string, yaml: string) => ws.start('run', dir, name, yaml);

describe('sluice run (in-process bus)', () => {
  it('delivers every event, survives SIGKILL and a restart without loss, and stops with exit 0 on SIGTERM', async () => {
    const { dir, logFile: log } = ws.setup('e2e');
    appendEvents(log, 0, 20_000);
    const yaml = config(dir);
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
    const { dir } = ws.setup('routes');
    appendEvents(join(dir, 'logs', 'keep.log'), 0, 300);
    appendEvents(join(dir, 'logs', 'drop.log'), 300, 200);
    const deadLetter = join(dir, 'dl.jsonl');
    const p = start(dir, 'run', config(dir, { routes: { rules: [{ match: { module: 'keep' }, sinks: ['out'] }] }, deadLetter }));
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

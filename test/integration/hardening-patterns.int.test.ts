// Issue #12, regular expressions that took minutes: the agent's go multiline preset and a
// collector route glob with two stars (`*error*timeout*`), both run over the whole of
// 800 KiB hostile lines (max_match_bytes raised so no bound hides the cost), end to end with
// the built CLI and real Kafka. The pipeline keeps flowing: every line reaches the sink its
// route chose, exactly once by event number. (How long the patterns take is
// bench/patterns.ts's business; here a quadratic pattern would stall the stream past the
// waits.)
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { expectEachOnce, linesUnder } from '../support/index.js';
import { topicsDeletedAfterAll, waitFor, workspace } from './bus-harness.js';

const brokers = inject('kafkaBrokers');
const ws = workspace('sluice-patterns-', brokers);
const created = topicsDeletedAfterAll(new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING }));

// Below the source's default max_event_bytes (900KiB, under what Kafka takes), so no line is cut.
const HOSTILE_BYTES = 800 * 1024;

/** The event number of a line: "ev-<n> ..." or, for a hostile line, "... ev-<n>" at its end. */
function numberOf(message: string): number {
  const m = /^ev-(\d+) /.exec(message) ?? / ev-(\d+)$/.exec(message.slice(-40));
  if (!m) throw new Error(`unexpected message of ${message.length} chars: ${message.slice(0, 40)}...${message.slice(-80)}`);
  return Number(m[1]);
}

/** The messages of every JSON line of every file (finished or in progress) under `root`. */
const messages = (root: string): string[] => linesUnder(root).map(({ line }) => (JSON.parse(line) as { message: string }).message);

const numbers = (root: string): number[] => messages(root).map(numberOf);

describe('hostile lines for the go multiline preset and a two-star route glob', () => {
  it('flow through agent -> Kafka -> collector with their neighbours: each line at its route, once', async () => {
    const scenario = ws.setup('patterns');
    const { dir, logFile } = scenario;
    created.push(scenario.topic);
    const alerts = join(dir, 'alerts');
    const rest = join(dir, 'rest');
    // 0..1999 ordinary lines; every 40th mentions an error and a timeout (route "alerts");
    // 2000..2004 "(" repeated (the old go preset took about 15 minutes on 1 MiB of it);
    // 2005..2009 "error " repeated, never "timeout" (`.*error.*timeout.*` took minutes).
    const matching: number[] = [];
    const lines: string[] = [];
    for (let n = 0; n < 2000; n++) {
      if (n % 40 === 7) {
        matching.push(n);
        lines.push(`ev-${n} error: upstream timeout after 30s`);
      } else lines.push(`ev-${n} info: served`);
      if (n % 400 === 0) {
        const k = 2000 + n / 400;
        lines.push(`${'('.repeat(HOSTILE_BYTES)} ev-${k}`);
        lines.push(`${'error '.repeat(HOSTILE_BYTES / 6)} ev-${k + 5}`);
      }
    }
    appendFileSync(logFile, `${lines.join('\n')}\n`);
    const total = 2010;
    const others = Array.from({ length: total }, (_, n) => n).filter((n) => !matching.includes(n));

    const agent = scenario.agent({
      logGlob: logFile,
      source: { max_match_bytes: '1MiB', multiline: { preset: 'go', flush_timeout: '100ms' } },
      channel: { max_bytes: '256MiB', segment_bytes: '16MiB' },
      producer: { compression: 'gzip', partitions: 2 },
    });
    const collector = scenario.collector({
      sinks: {
        alerts: { type: 'file', root: alerts, path: '{service}.log', encoding: 'json' },
        rest: { type: 'file', root: rest, path: '{service}.log', encoding: 'json' },
      },
      routes: { max_match_bytes: '1MiB', rules: [{ match: { message: '*error*timeout*' }, sinks: ['alerts'] }], default: ['rest'] },
    });
    await waitFor(
      `${total} lines in the two trees`,
      () => numbers(alerts).length + numbers(rest).length >= total,
      120_000,
      () => `${numbers(alerts).length} + ${numbers(rest).length}\n${agent.log().slice(-1500)}\n${collector.log().slice(-1500)}`,
    );
    expect(await agent.stop()).toBe(0);
    expect(await collector.stop()).toBe(0);
    expectEachOnce(numbers(alerts), matching);
    expectEachOnce(numbers(rest), others);
    // The hostile lines arrive whole, each its own event (none is a go continuation line).
    const hostile = messages(rest).filter((m) => m.length > HOSTILE_BYTES);
    expect(hostile.map(numberOf).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => 2000 + i));
    for (const m of hostile) expect(m.startsWith('(((') || m.startsWith('error error')).toBe(true);
    expect(agent.log() + collector.log()).not.toMatch(/"level":(50|60)/);
  });
});

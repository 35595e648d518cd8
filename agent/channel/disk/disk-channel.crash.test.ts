import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger, tempDir } from '../../../test/support/index.js';
import { eventNumber, makeEvent, seededRandom } from '../testkit.js';
import { DiskChannel } from './disk-channel.js';

/**
 * Crash consistency: a child process puts and takes (up to three transactions open, as the
 * pipelined forwarder keeps them) as fast as it can and is SIGKILLed at
 * random moments, again and again on the same directory. Across all runs:
 *  - every event whose put resolved is delivered after the crash unless its commit had started;
 *  - nothing whose commit resolved is ever delivered again;
 *  - nothing is invented or altered (content checked), order is kept;
 *  - the recovered checkpoint is at least the newest one whose put resolved.
 * The child runs the compiled channel from dist/ (built by the unit project's global setup).
 */
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const dist = join(root, 'dist');
const child = join(here, 'crash-child.mjs');
let dir: string;

beforeAll(async () => {
  const sources = readdirSync(here, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const f of sources) {
    const js = join(dist, 'agent/channel/disk', f.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(here, f)).mtimeMs) {
      throw new Error(`${js} is missing or older than its source: build first (npx tsc -p tsconfig.build.json)`);
    }
  }
  ({ dir } = await tempDir('crash'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  lines: string[];
}

/** Kills `killAfterMs` after the child reported it is open, or that long after spawn when `duringOpen`. */
function runChild(start: number, seed: number, killAfterMs: number, duringOpen: boolean): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const proc = spawn(process.execPath, [child, dir, dist, String(start), String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer = setTimeout(() => proc.kill('SIGKILL'), duringOpen ? killAfterMs : 30_000);
    proc.stdout.on('data', (d: Buffer) => {
      const opened = !duringOpen && !stdout.includes('L ');
      stdout += d.toString();
      if (opened && stdout.includes('L ')) {
        clearTimeout(timer);
        timer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      }
    });
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
      // A line cut by the kill has no newline and is ignored: it never finished being reported.
      resolveRun({ lines: stdout.split('\n').slice(0, -1) });
    });
  });
}

describe('disk channel under SIGKILL', () => {
  it('loses nothing that was put, redelivers nothing that was committed, across many random kills', async () => {
    const random = seededRandom(20240601);
    const putStarted = new Set<number>();
    const putDone = new Set<number>();
    const commitStarted = new Set<number>();
    const committed = new Set<number>();
    const lengths = new Map<number, number>();
    let maxDoneSeq = -1;
    let maxStartedSeq = -1;
    let next = 0;
    let runs = 0;
    let runsWithTraffic = 0;
    const deadline = Date.now() + 20_000;

    while ((Date.now() < deadline && runs < 60) || runs < 12) {
      const duringOpen = runs % 5 === 4;
      const run = await runChild(next, runs, duringOpen ? 50 + Math.floor(random() * 250) : Math.floor(random() * 300), duringOpen);
      runs++;
      // Transactions open in this run, by serial: taken ids; a restart abandons them all.
      const open = new Map<number, number[]>();
      let traffic = false;
      for (const line of run.lines) {
        const [kind, ...rest] = line.split(' ');
        if (kind === 'L') {
          const seq = Number(rest[0]);
          expect(seq, `run ${runs}: recovered checkpoint`).toBeGreaterThanOrEqual(maxDoneSeq);
          expect(seq).toBeLessThanOrEqual(maxStartedSeq);
        } else if (kind === 'S' || kind === 'P') {
          const [from, to, seq] = rest.map(Number) as [number, number, number];
          for (let id = from; id < to; id++) (kind === 'S' ? putStarted : putDone).add(id);
          if (kind === 'S') maxStartedSeq = Math.max(maxStartedSeq, seq);
          else maxDoneSeq = Math.max(maxDoneSeq, seq);
          next = Math.max(next, to);
          traffic ||= kind === 'P';
        } else if (kind === 'T') {
          const held = new Set([...open.values()].flat());
          const taken = (rest[1] ?? '')
            .split(',')
            .filter(Boolean)
            .map((pair) => {
              const [id, len] = pair.split(':').map(Number) as [number, number];
              lengths.set(id, len);
              return id;
            });
          for (let i = 0; i < taken.length; i++) {
            const id = taken[i]!;
            expect(putStarted.has(id), `run ${runs}: event ${id} delivered but never put`).toBe(true);
            expect(committed.has(id), `run ${runs}: event ${id} delivered again after its commit`).toBe(false);
            expect(held.has(id), `run ${runs}: event ${id} handed out while another open transaction holds it`).toBe(false);
            expect(lengths.get(id), `run ${runs}: event ${id} altered`).toBe(makeEvent(id, id % 7 === 0 ? 400 : 0).message.length);
            if (i > 0) expect(id, `run ${runs}: order`).toBeGreaterThan(taken[i - 1]!);
          }
          open.set(Number(rest[0]), taken);
        } else if (kind === 'C') {
          for (const id of open.get(Number(rest[0]))!) commitStarted.add(id);
        } else if (kind === 'D') {
          for (const id of open.get(Number(rest[0]))!) committed.add(id);
          open.delete(Number(rest[0]));
        } else if (kind === 'R') {
          for (const k of [...open.keys()]) if (k >= Number(rest[0])) open.delete(k);
        }
      }
      if (traffic) runsWithTraffic++;
    }

    // Whatever survived: drain it in this process (from the TypeScript source, same format).
    const { logger, lines } = captureLogger();
    const channel = new DiskChannel(
      {
        path: dir,
        maxBytes: 256 * 1024,
        segmentBytes: 32 * 1024,
        fsync: 'always',
        commitFsync: 'always',
        readCacheBytes: 0,
        retryBackoffMaxMs: 50,
      },
      'crash-verify',
      logger,
    );
    await channel.open();
    const recovered: number[] = [];
    const aborted = new AbortController();
    aborted.abort();
    for (;;) {
      const tx = await channel.take(10_000, aborted.signal);
      if (tx.events.length === 0) break;
      for (const e of tx.events) {
        expect(e).toEqual(makeEvent(eventNumber(e), eventNumber(e) % 7 === 0 ? 400 : 0));
        recovered.push(eventNumber(e));
      }
      await tx.commit();
    }
    await channel.close();
    for (let i = 1; i < recovered.length; i++) expect(recovered[i]!).toBeGreaterThan(recovered[i - 1]!);
    for (const id of recovered) expect(committed.has(id), `event ${id} recovered after its commit`).toBe(false);
    const lost = [...putDone].filter((id) => !commitStarted.has(id) && !recovered.includes(id));
    expect(lost, 'events whose put resolved but which were neither committed nor recovered').toEqual([]);
    // Kills land between whole writes (the page cache survives a process kill), so no damage is expected.
    expect(lines.filter((l) => /damaged|torn/.test(String(l.msg)))).toEqual([]);
    expect(runsWithTraffic).toBeGreaterThanOrEqual(8);
    expect(committed.size).toBeGreaterThan(1000);
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(3);
  });
});

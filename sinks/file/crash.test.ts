import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { FileSink } from './file-sink.js';
import { fileSinkOptions } from './index.js';

// dist/ is built by the test global setup (test/build-setup.ts) before this runs.
const writer = join(import.meta.dirname, 'testdata/crash-writer.mjs');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-file-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it acknowledged at least `acks` batches, then SIGKILLs it mid-write; returns the last acked batch. */
async function crashAfter(root: string, compression: string, acks: number, dataDir?: string, first = 0): Promise<number> {
  const args = dataDir === undefined ? [root, compression] : [root, compression, dataDir, String(first)];
  const child = spawn(process.execPath, [writer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = -1;
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited early: code ${code}, signal ${signal}`)),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) last = Number(line.slice('ack '.length));
      if (last + 1 - first >= acks) child.kill('SIGKILL');
    });
  });
  return last;
}

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (p: string) => out.push(p))(join(d, e.name));
  };
  walk(root);
  return out;
}

describe('file sink: crash in the middle of writing', () => {
  for (const compression of ['none', 'gzip']) {
    it(`SIGKILL mid-write (${compression}), restart: finished files hold whole lines only and every acknowledged event is there`, async () => {
      const root = join(dir, 'out');
      const acked = await crashAfter(root, compression, 40);
      const sink = new FileSink(fileSinkOptions.parse({ root, compression }), { name: 'crash', logger: silentLogger() });
      await sink.open();
      await sink.close();

      const files = filesUnder(root);
      expect(files.filter((f) => f.endsWith('.inprogress'))).toEqual([]);
      const seen = new Set<string>();
      const line = /^b(\d+)-e(\d+)-x{150}$/;
      for (const file of files) {
        const text = compression === 'gzip' ? execFileSync('zcat', [file], { encoding: 'utf8' }) : readFileSync(file, 'utf8');
        expect(text.endsWith('\n'), file).toBe(true);
        for (const l of text.slice(0, -1).split('\n')) {
          const m = line.exec(l);
          expect(m, `${file}: ${JSON.stringify(l.slice(0, 40))}`).not.toBeNull();
          seen.add(`${m![1]}-${m![2]}`);
        }
      }
      const missing: string[] = [];
      for (let b = 0; b <= acked; b++) for (let e = 0; e < 300; e++) if (!seen.has(`${b}-${e}`)) missing.push(`${b}-${e}`);
      expect(missing).toEqual([]);
      expect(acked).toBeGreaterThanOrEqual(39);
    });
  }
});

/** How many times each line `b<batch>-e<event>-x...` occurs in the finished files under root. */
function countLines(root: string, gzip: boolean): Map<string, number> {
  const counts = new Map<string, number>();
  const line = /^b(\d+)-e(\d+)-x{150}$/;
  for (const file of filesUnder(root)) {
    const text = gzip ? execFileSync('zcat', [file], { encoding: 'utf8' }) : readFileSync(file, 'utf8');
    expect(text.endsWith('\n'), file).toBe(true);
    for (const l of text.slice(0, -1).split('\n')) {
      const m = line.exec(l);
      expect(m, `${file}: ${JSON.stringify(l.slice(0, 40))}`).not.toBeNull();
      const key = `${m![1]}-${m![2]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

describe('file sink with its write journal: exactly once across crashes', () => {
  for (const compression of ['none', 'gzip']) {
    it(`five SIGKILLs mid-write (${compression}), each restart redelivering from 3 batches before the last ack: every event exactly once`, async () => {
      const root = join(dir, 'out');
      const dataDir = join(dir, 'state');
      let acked = -1;
      for (let crash = 0; crash < 5; crash++) {
        // Like a consumer resuming from a commit that lagged behind: batches already written come again.
        const first = Math.max(0, acked - 2);
        acked = await crashAfter(root, compression, 12, dataDir, first);
        expect(acked).toBeGreaterThanOrEqual(first + 11);
      }
      const sink = new FileSink(fileSinkOptions.parse({ root, compression }), { name: 'crash', logger: silentLogger(), dataDir });
      await sink.open();
      await sink.close();

      expect(filesUnder(root).filter((f) => f.endsWith('.inprogress'))).toEqual([]);
      const counts = countLines(root, compression === 'gzip');
      const wrong: string[] = [];
      for (let b = 0; b <= acked; b++)
        for (let e = 0; e < 300; e++) if (counts.get(`${b}-${e}`) !== 1) wrong.push(`${b}-${e}: ${counts.get(`${b}-${e}`) ?? 0}`);
      expect(wrong).toEqual([]);
      // The batch in flight at the last kill is there whole (its record made it) or not at all.
      const inFlight = Array.from({ length: 300 }, (_, e) => counts.get(`${acked + 1}-${e}`) ?? 0);
      expect([0, 300]).toContain(inFlight.reduce((a, b) => a + b, 0));
      expect(Math.max(...inFlight)).toBeLessThanOrEqual(1);
      expect([...counts.keys()].length).toBeGreaterThanOrEqual((acked + 1) * 300);
    });
  }
});

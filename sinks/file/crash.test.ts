import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { FileSink, fileSinkOptions } from './index.js';

// dist/ is built by the test global setup (test/build-setup.ts) before this runs.
const writer = join(import.meta.dirname, 'testdata/crash-writer.mjs');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-file-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it acknowledged at least `acks` batches, then SIGKILLs it mid-write; returns the last acked batch. */
async function crashAfter(root: string, compression: string, acks: number): Promise<number> {
  const child = spawn(process.execPath, [writer, root, compression], { stdio: ['ignore', 'pipe', 'inherit'] });
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
      if (last + 1 >= acks) child.kill('SIGKILL');
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

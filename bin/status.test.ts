import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { silentLogger } from '../core/log.js';
import { formatBytes, formatStatus, startStatusLine } from './status.js';

const repo = join(import.meta.dirname, '..');

describe('status line', () => {
  it('shows rates, what is buffered and files written in one compact line', () => {
    expect(
      formatStatus({
        inPerSec: 1234.4,
        outPerSec: 1200,
        bufferedEvents: 4567,
        bufferedBytes: 3 * 1024 * 1024 + 300 * 1024,
        filesFinished: 12,
        filesOpen: 4,
        uptimeMs: 3_723_000,
      }),
    ).toBe('in 1,234 ev/s | out 1,200 ev/s | buffered 3.3 MiB (4,567 ev) | files 12 done, 4 in progress | up 1:02:03');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });

  it('redraws in place on a terminal and ends with a newline when stopped', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
    let text = '';
    (out as unknown as PassThrough).on('data', (c: Buffer) => (text += c.toString()));
    let written = 0;
    const line = startStatusLine({ written: () => (written += 100) }, { out, logger: silentLogger(), intervalMs: 10 });
    const deadline = Date.now() + 10_000;
    while ((text.match(/\r\x1b\[2K/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    line.stop();
    expect(text).toMatch(
      /^\r\x1b\[2Kin 0 ev\/s \| out [\d,]+ ev\/s \| buffered 0 B \(0 ev\) \| files \d+ done, \d+ in progress \| up 0:00:00/,
    );
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('npm start (config/sluice.yaml)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-start-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('demo logs flow through the file source, disk channel and in-process bus into var/out/<service>/<module>/<day>/, and Ctrl-C stops cleanly', async () => {
    mkdirSync(join(dir, 'config'));
    copyFileSync(join(repo, 'config/sluice.yaml'), join(dir, 'config/sluice.yaml'));
    // What `npm start` runs after its build (dist/ is built by the test global setup).
    const child = spawn(process.execPath, [join(repo, 'dist/bin/sluice.js'), 'run', '-c', 'config/sluice.yaml'], {
      cwd: dir,
      env: { ...process.env, PWD: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    const streams = ['shop/web', 'shop/checkout', 'billing/api', 'billing/invoicing'];
    const dayDir = (s: string) => join(dir, 'var/out', s, new Date().toISOString().slice(0, 10));
    const written = () => streams.filter((s) => existsSync(dayDir(s)) && readdirSync(dayDir(s)).length > 0).length;
    const deadline = Date.now() + 30_000;
    while (written() < streams.length && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    expect(written(), stderr).toBe(streams.length);

    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    for (const s of streams) {
      const names = readdirSync(dayDir(s));
      expect(names.filter((n) => n.endsWith('.inprogress'))).toEqual([]);
      for (const name of names) {
        expect(name).toMatch(/^.+\.\d{6}\.log$/);
        const text = readFileSync(join(dayDir(s), name), 'utf8');
        expect(text.endsWith('\n')).toBe(true);
        if (s === 'shop/web')
          for (const line of text.slice(0, -1).split('\n')) expect(line).toMatch(/^\d+\.\d+\.\d+\.\d+ - - \[.+\] "(GET|POST) /);
        if (s === 'billing/api')
          for (const line of text.slice(0, -1).split('\n')) expect(JSON.parse(line)).toMatchObject({ logger: 'billing.api' });
      }
    }
  });
});

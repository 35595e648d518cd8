// `sluice top` in a real pseudo-terminal (util-linux `script`, present on every Debian):
// it takes over the screen, redraws every interval with every component, and gives the
// terminal back when q is pressed. And with nothing at the address: one line, exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/index.js';
import { apiWorkspace } from './api-harness.js';
import { appendEvents, CLI } from './bus-harness.js';

const { setup, start } = apiWorkspace('sluice-api-top-');
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

describe(`sluice top in a terminal${hasScript ? '' : ' — SKIPPED: util-linux script is not installed'}`, () => {
  it.skipIf(!hasScript)('draws the full screen, refreshes, and restores the terminal on q', async () => {
    const { dir, logs } = setup('pty');
    appendEvents(join(logs, 'a.log'), 0, 1000);
    const sluice = start(
      'run',
      dir,
      'run',
      [
        `data_dir: ${join(dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${join(logs, '*.log')}"], start_at: beginning }`,
        'channel: { type: memory }',
        'sinks:',
        '  out: { type: console }',
        'api: { address: "127.0.0.1:0" }',
        '',
      ].join('\n'),
    );
    const api = await sluice.api();
    const top = spawn(
      'script',
      ['-qfec', `stty cols 150 rows 40; exec ${process.execPath} ${CLI} top --api ${api.url.origin} --interval 300ms`, '/dev/null'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let screen = '';
    top.stdout.on('data', (c: Buffer) => (screen += c.toString()));
    const exited = new Promise<number | null>((resolve) => top.once('exit', resolve));
    try {
      // Two full frames: the first measured one and a redraw.
      await waitFor(
        'two frames of top',
        () => (screen.match(/\x1b\[Hsluice top — /g) ?? []).length >= 2,
        60_000,
        () => screen,
      );
      top.stdin.write('q');
      expect(await exited).toBe(0);
    } finally {
      top.kill('SIGKILL');
    }
    // The alternate screen is entered, the cursor hidden, then both given back on q.
    expect(screen.indexOf('\x1b[?1049h\x1b[?25l')).toBeGreaterThanOrEqual(0);
    expect(screen.trimEnd().endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
    const frame = screen.slice(screen.lastIndexOf('\x1b[Hsluice top — '));
    const rows = frame.split('\n').map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trimEnd());
    expect(rows[0]).toMatch(/^sluice top — http:\/\/127\.0\.0\.1:\d+ \(run\) — up \d+:\d\d:\d\d — ready — \d\d:\d\d:\d\d$/);
    expect(rows[2]).toMatch(/^COMPONENT\s+KIND\s+TYPE\s+STATE\s+IN\/s\s+OUT\/s/);
    expect(rows.slice(3, 8).map((r) => r.split(/\s+/).slice(0, 4))).toEqual([
      ['sources.app', 'source', 'file', 'running'],
      ['channel', 'channel', 'memory', 'running'],
      ['bus', 'bus', 'embedded', 'running'],
      ['routes', 'router', 'rules', 'running'],
      ['sinks.out', 'sink', 'console', 'running'],
    ]);
    for (const r of rows.slice(3, 8)) expect(r.length).toBeLessThanOrEqual(150);
    expect(await sluice.stop()).toBe(0);
  });

  it('says in one line that nothing answers, and exits 1', () => {
    const r = spawnSync(process.execPath, [CLI, 'top', '--api', 'http://127.0.0.1:1'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'sluice top: cannot reach the Sluice api at http://127.0.0.1:1: connection refused (is Sluice running, with its api on this address?)\n',
    );
    expect(r.status).toBe(1);
  });
});

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { CLI, demoPipeline, start, stopAll, waitForLog, writeFile } from './harness.js';

/** Issue 17, "Terminals and logs": the status line and the console sink, and clean log lines. */
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('cli-terminal');
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** Keys that appear twice in one object of a JSON text (JSON.parse keeps the last silently). */
function duplicateKeys(json: string): string[] {
  const found: string[] = [];
  const objects: (Set<string> | undefined)[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(undefined);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const text = json.slice(i + 1, j);
      let k = j + 1;
      while (json[k] === ' ') k++;
      const keys = objects.at(-1);
      if (json[k] === ':' && keys) {
        if (keys.has(text)) found.push(text);
        keys.add(text);
      }
      i = j;
    }
  }
  return found;
}

describe('sluice run on a terminal', () => {
  it.skipIf(!hasScript)('draws its status line on stderr: stdout carries only what the console sink prints', () => {
    const config = writeFile(tmp.dir, 'console.yaml', demoPipeline(tmp.dir, '  out: { type: console }'));
    const out = join(tmp.dir, 'stdout.txt');
    // script gives the command a terminal; its stdout is sent to a file, as `sluice run > file`.
    const command = `timeout --preserve-status -s INT 6 ${process.execPath} ${CLI} run -c ${config} > ${out}`;
    const r = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
    expect(r.status, r.stdout).toBe(0);
    const terminal = r.stdout;
    expect(terminal).toMatch(
      /\r\x1b\[2Kin [\d,]+ ev\/s \| out [\d,]+ ev\/s \| buffered .* \| files \d+ done, \d+ in progress \| up 0:00:0\d/,
    );
    const printed = readFileSync(out, 'utf8');
    expect(printed.length).toBeGreaterThan(0);
    expect(printed).not.toContain('ev/s');
    expect(printed).not.toContain('\x1b');
    expect(printed).not.toMatch(/"pid":\d+/); // none of Sluice's own log lines either
  });
});

describe('log lines', () => {
  it('carry each key once: a component is named once, by the one who builds it', async () => {
    const config = writeFile(
      tmp.dir,
      'debug.yaml',
      demoPipeline(tmp.dir, `  out: { type: file, root: ${tmp.dir}/out }`, 'log: { level: debug }').replace(
        `${tmp.dir}/state`,
        `${tmp.dir}/debug-state`,
      ),
    );
    const run = start(['run', '-c', config]);
    await waitForLog(run, 'sluice started');
    await waitFor('events written', () => readDirDeep(join(tmp.dir, 'out')) > 0, 30_000);
    expect(await run.stop()).toBe(0);
    const lines = run.stderr().trim().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
    const components = new Set(run.logs().map((l) => l.component));
    expect([...components]).toEqual(expect.arrayContaining(['sources.demo', 'sources.files', 'sinks.out', 'channel']));
  });

  it('the duplicate-key check finds duplicates', () => {
    expect(duplicateKeys('{"component":"agent","a":{"component":"x"},"component":"forwarder","l":["component"]}')).toEqual(['component']);
  });
});

function readDirDeep(dir: string): number {
  const r = spawnSync('find', [dir, '-type', 'f'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).length;
}

// bin/sluice.sh, the entrypoint npm installs as `sluice` and the Docker image runs: it
// computes V8's flags from memory_limit and execs Node with them, so the process a
// supervisor started is the pipeline itself, with no launcher beside it (bin/launch.ts).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../support/index.js';
import { alive, childrenOf, ENTRYPOINT, REPO, sluice, start, stopAll, unreachableCollector, waitForLog } from './harness.js';

afterAll(stopAll);

const MiB = 1024 * 1024;

function outputs(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('');
}

describe('bin/sluice.sh', () => {
  it('runs the pipeline in the process it was started as: V8 sized by memory_limit, on the bundle, nothing lost, exit 0 on SIGTERM', async () => {
    const dir = await tempDir('entrypoint');
    try {
      const config = join(dir.dir, 'run.yaml');
      writeFileSync(
        config,
        [
          'memory_limit: 112MiB',
          `data_dir: ${join(dir.dir, 'data')}`,
          'sources:',
          `  app: { type: file, include: ["${join(dir.dir, '*.log')}"] }`,
          'channel: { type: disk }',
          `sinks: { out: { type: file, root: ${join(dir.dir, 'out')}, path: "{service}.log" } }`,
          'api: { enabled: false }',
        ].join('\n'),
      );
      // Through a symbolic link, as npm's node_modules/.bin/sluice reaches it.
      const link = join(dir.dir, 'sluice');
      symlinkSync(ENTRYPOINT, link);
      const run = start(['run', '-c', config], { SLUICE_NODE_FLAGS: '--no-deprecation --no-warnings' }, dir.dir, link);
      await waitForLog(run, 'sluice started', 60_000);
      const pid = run.child.pid!;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv.filter((a) => a.startsWith('--max-'))).toEqual(['--max-old-space-size=80', '--max-semi-space-size=3']);
      expect(argv.slice(1, argv.indexOf(join(REPO, 'dist/bundle/sluice.js')))).toEqual([
        '--max-old-space-size=80',
        '--max-semi-space-size=3',
        '--no-deprecation',
        '--no-warnings',
      ]);
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(env).toContain(`SLUICE_MEMORY_LIMIT=${112 * MiB}`);
      expect(env).toContain('MALLOC_ARENA_MAX=2');
      expect(childrenOf(pid)).toEqual([]);

      writeFileSync(join(dir.dir, 'app.log'), 'one\ntwo\n');
      await waitFor(
        'both lines in the file sink',
        () => outputs(join(dir.dir, 'out')) === 'one\ntwo\n',
        30_000,
        () => run.stderr(),
      );
      expect(await run.stop('SIGTERM')).toBe(0);
      expect(run.logs().filter((l) => l.msg === 'pipeline stopped')).toHaveLength(1);
    } finally {
      await dir.cleanup();
    }
  }, 120_000);

  it('runs a collector supervisor as that process: its workers are its children, and a SIGTERM stops them all with exit 0', async () => {
    const dir = await tempDir('entrypoint-workers');
    try {
      const config = unreachableCollector(dir.dir);
      const collector = start(['collector', '-c', config, '--workers', '2'], {}, undefined, ENTRYPOINT);
      await waitFor(
        'two workers started',
        () => collector.logs().filter((l) => l.msg === 'kafka client chosen').length === 2,
        60_000,
        () => collector.stderr(),
      );
      const workers = childrenOf(collector.child.pid!);
      expect(workers).toHaveLength(2);
      for (const w of workers) expect(readFileSync(`/proc/${w}/cmdline`, 'utf8').split('\0')).toContain('--worker');
      expect(await collector.stop('SIGTERM')).toBe(0);
      for (const pid of workers) await waitFor(`worker ${pid} to exit`, () => !alive(pid), 10_000);
    } finally {
      await dir.cleanup();
    }
  }, 120_000);

  it('exits 0 when stopped while it works out the flags, before any pipeline started', async () => {
    const dir = await tempDir('entrypoint-early');
    try {
      // A FIFO for the config: the Node run that works out the flags reads it, and waits
      // there until the test writes it, so the stop surely comes while it runs.
      const config = join(dir.dir, 'run.yaml');
      execFileSync('mkfifo', [config]);
      const run = start(['run', '-c', config], {}, undefined, ENTRYPOINT);
      const pid = run.child.pid!;
      await waitFor(
        'the entrypoint catching SIGTERM (SigCgt bit 14)',
        () => {
          const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
          return caught !== undefined && (BigInt(`0x${caught}`) & (1n << 14n)) !== 0n;
        },
        10_000,
        () => run.stderr(),
      );
      run.child.kill('SIGTERM');
      await writeFile(config, `data_dir: ${join(dir.dir, 'data')}\napi: { enabled: false }\n`);
      expect(await run.exited).toBe(0);
      expect(run.logs().map((l) => l.msg)).not.toContain('sluice started');
    } finally {
      await dir.cleanup();
    }
  }, 60_000);

  it('runs every other command in one Node process, with its output and exit code, and refuses a bad config of a pipeline as the CLI does', async () => {
    const dir = await tempDir('entrypoint-cli');
    try {
      const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
      const version = sluice(['--version'], {}, undefined, ENTRYPOINT);
      expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });

      const bad = join(dir.dir, 'bad.yaml');
      writeFileSync(bad, 'sources:\n  app: { type: file, include: ["/tmp/*.log"], bogus: 1 }\n');
      for (const command of ['validate', 'agent']) {
        const r = sluice([command, '-c', bad], {}, undefined, ENTRYPOINT);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`${bad}:2:`);
        expect(r.stderr).toContain('bogus');
      }
    } finally {
      await dir.cleanup();
    }
  }, 60_000);
});

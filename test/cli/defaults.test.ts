import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { REPO, sluice, start, stopAll, waitForLog, writeFile } from './harness.js';

/** Issue 17, "Defaults that work where people deploy". */
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('cli-defaults');
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

describe('SLUICE_DATA_DIR', () => {
  it('is where state goes when the file has no data_dir', async () => {
    const cwd = join(tmp.dir, 'cwd');
    const state = join(tmp.dir, 'env-state');
    mkdirSync(cwd);
    const config = writeFile(
      tmp.dir,
      'no-data-dir.yaml',
      [
        'sources:',
        `  app: { type: file, include: ["${tmp.dir}/logs/*.log"] }`,
        'channel: { type: disk }',
        'sinks:',
        `  out: { type: file, root: ${tmp.dir}/out }`,
        '',
      ].join('\n'),
    );
    const run = start(['run', '-c', config], { SLUICE_DATA_DIR: state }, cwd);
    await waitForLog(run, 'sluice started');
    expect(await run.stop()).toBe(0);
    expect(existsSync(join(state, 'channel'))).toBe(true);
    expect(existsSync(join(state, 'sources', 'app'))).toBe(true);
    expect(existsSync(join(cwd, 'var'))).toBe(false);
  });
});

describe('the Docker image', () => {
  const dockerfile = readFileSync(join(REPO, 'docker/Dockerfile'), 'utf8');

  it('ships the config its default command runs, and its usage comment passes -c', () => {
    const cmd = /^CMD \["run", "-c", "([^"]+)"\]$/m.exec(dockerfile)?.[1];
    expect(cmd).toBe('/etc/sluice/sluice.yaml');
    expect(dockerfile).toMatch(new RegExp(`^COPY docker/config/sluice\\.yaml ${cmd!.replace(/\./g, '\\.')}$`, 'm'));
    const usage = dockerfile.split('\n').filter((l) => /^#.*\bsluice (agent|collector|run)\b/.test(l));
    expect(usage.length).toBeGreaterThan(0);
    for (const line of usage) expect(line).toMatch(/\bsluice (agent|collector|run) -c \S+/);
  });

  it('its default config runs as is, writing only under SLUICE_DATA_DIR, and prints events', async () => {
    const config = join(REPO, 'docker/config/sluice.yaml');
    const state = join(tmp.dir, 'image-state');
    expect(sluice(['validate', '--as', 'run', '-c', config], { SLUICE_DATA_DIR: state })).toMatchObject({ code: 0, stderr: '' });
    const cwd = join(tmp.dir, 'image-cwd');
    mkdirSync(cwd);
    const run = start(['run', '-c', config], { SLUICE_DATA_DIR: state }, cwd);
    await waitFor('events on stdout', () => run.stdout().split('\n').length > 3 || run.child.exitCode !== null, 30_000, run.stderr);
    expect(await run.stop('SIGTERM')).toBe(0);
    expect(run.stdout()).toMatch(/^(\d{4}-\d{2}-\d{2} |\d+\.\d+\.\d+\.\d+ |\{)/);
    expect(existsSync(join(state, 'demo'))).toBe(true);
    expect(existsSync(join(cwd, 'var'))).toBe(false);
  });
});

describe('the demo of npm start', () => {
  it('rolls its files every minute, so the output shows within one', () => {
    const config = parse(readFileSync(join(REPO, 'config/sluice.yaml'), 'utf8')) as { sinks: Record<string, Record<string, unknown>> };
    expect(config.sinks.files).toMatchObject({ type: 'file', roll_age: '1m' });
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('the demo rolls every minute');
  });
});

describe('the README', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

  it('presents what is not built yet as not available, never as there', () => {
    // Every paragraph that names what is designed but not built (webhdfs's Kerberos) says so.
    const planned = readme.split(/\n\s*\n/).filter((p) => /kerberos/i.test(p));
    expect(planned.length).toBeGreaterThan(0);
    for (const paragraph of planned) expect(paragraph).toMatch(/not built|not available yet/i);
    const types = [...readme.matchAll(/^\| (\w+)\s+\| `(\w+)`/gm)].map((m) => `${m[1]}/${m[2]}`);
    expect(types).toEqual(
      expect.arrayContaining(['sinks/file', 'sinks/webhdfs', 'sinks/elasticsearch', 'transforms/parse', 'transforms/fields']),
    );
  });

  it('says a bus section in a `sluice run` file is an error, and it is', () => {
    expect(readme).toContain('a `bus:` section other than `type: embedded` is an error there');
    const path = writeFile(
      tmp.dir,
      'run-bus.yaml',
      'sources:\n  a: { type: file, include: [a.log] }\nchannel: { type: disk }\nbus: { type: kafka }\nsinks:\n  o: { type: console }\n',
    );
    expect(sluice(['run', '-c', path]).code).toBe(2);
  });
});

// The README's quick start, walked in a fresh copy of the repository, in the order the
// README gives it (issue 17 "Done when"): the steps are read from the README itself, so the
// docs cannot drift from the behaviour. `git clone` is a copy of the tracked files into a
// private `mktemp -d` (as a clone in /root would be), `npm ci` links this checkout's
// node_modules (no registry traffic in tests) and builds as its `prepare` script does.
// Search uses the shared Elasticsearch of the integration tests.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { REPO } from './harness.js';

const url = inject('elasticsearchUrl');
const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1));
/** The commands of each ```sh block of the quick start, comments dropped. */
const blocks = [...quickStart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
  m[1]!
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean),
);

let tmp: TempDir;
let clone: string;
const children: ChildProcess[] = [];
const env = { PATH: process.env.PATH, HOME: process.env.HOME, ELASTICSEARCH_URL: url, npm_config_update_notifier: 'false' };

beforeAll(async () => {
  tmp = await tempDir('quickstart');
  clone = join(tmp.dir, 'sluice');
});
afterAll(async () => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  const admin = new Client({ node: url });
  const rows = await admin.cat.indices({ index: 'sluice-demo-*', format: 'json', h: ['index'] }).catch(() => []);
  for (const r of rows) await admin.indices.delete({ index: r.index! });
  const { index_templates: templates } = await admin.indices.getIndexTemplate();
  for (const t of templates)
    if ([t.index_template.index_patterns].flat().some((p) => p.startsWith('sluice-demo-')))
      await admin.indices.deleteIndexTemplate({ name: t.name });
  await admin.close();
  await tmp.cleanup();
});

function sh(command: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', command], { cwd: clone, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A command in the background, in its own process group so Ctrl-C can be sent to all of it. */
function background(command: string) {
  const child = spawn('sh', ['-c', command], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    /** Ctrl-C on the terminal: SIGINT to the whole group, then wait until every process of it is gone. */
    ctrlC: async () => {
      process.kill(-child.pid!, 'SIGINT');
      await exited;
      await waitFor('the process group to end', () => !groupAlive(child.pid!), 120_000);
    },
  };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function copyTrackedFiles(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(REPO, f))) continue; // deleted in the working tree, not committed yet
    mkdirSync(dirname(join(to, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(to, f));
  }
}

/** Files under var/out, finished (visible) ones and in-progress (hidden) ones. */
function outputs(): { finished: string[]; inProgress: string[] } {
  const found: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    // Types from the listing itself: a stat per entry would race the sink renaming a finished file.
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else found.push(p);
    }
  };
  walk(join(clone, 'var/out'));
  return { finished: found.filter((p) => !/\/\.[^/]*$/.test(p)), inProgress: found.filter((p) => p.endsWith('.inprogress')) };
}

const lineCount = (files: string[]) => files.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length - 1, 0);

describe("the README's quick start, in a fresh clone", () => {
  it('has the steps this test knows how to walk', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const line of blocks[0]!) expect(line).toMatch(/^(git clone |npm ci$|npx sluice validate |npm start$)/);
    for (const line of blocks[1]!) expect(line).toMatch(/^npx sluice (run|search) /);
  });

  it('clone, install, validate the examples, npm start with files visible within a minute, stop, restart, search', async () => {
    for (const step of blocks[0]!) {
      if (step.startsWith('git clone ')) {
        copyTrackedFiles(clone);
        expect(statSync(tmp.dir).mode & 0o777).toBe(0o700);
      } else if (step === 'npm ci') {
        symlinkSync(join(REPO, 'node_modules'), join(clone, 'node_modules'));
        const build = sh('npm run --silent prepare');
        expect(build, build.stderr).toMatchObject({ code: 0 });
      } else if (step.startsWith('npx sluice validate ')) {
        const r = sh(step);
        expect(r.stderr, step).toBe('');
        expect(r.code, step).toBe(0);
        expect(r.stdout).toContain(': valid (');
      } else if (step === 'npm start') {
        await npmStartStopRestart();
      }
    }
    await search(blocks[1]!);
  }, 900_000);
});

async function npmStartStopRestart(): Promise<void> {
  const first = background('npm start');
  await waitFor('sluice started', () => first.logs().some((l) => l.msg === 'sluice started'), 300_000, first.stderr);
  // The README: in-progress files are hidden until rolled, every minute in the demo.
  await waitFor('files in progress', () => outputs().inProgress.length > 0, 30_000, first.stderr);
  await waitFor('finished files, visible', () => outputs().finished.length > 0, 120_000, first.stderr);
  await first.ctrlC();
  expect(first.logs().some((l) => l.msg === 'stopping (send the signal again to exit at once)')).toBe(true);
  expect(first.stderr()).not.toMatch(/\n\s+at /);
  const afterFirst = outputs();
  expect(afterFirst.inProgress).toEqual([]); // a clean stop finishes every file
  const firstFiles = new Set(afterFirst.finished);

  const second = background('npm start');
  await waitFor('sluice started again', () => second.logs().some((l) => l.msg === 'sluice started'), 300_000, second.stderr);
  expect(second.logs().find((l) => l.msg === 'resuming from checkpoint')).toMatchObject({ files: expect.any(Number) });
  await waitFor('new files after the restart', () => outputs().finished.some((f) => !firstFiles.has(f)), 120_000, second.stderr);
  await second.ctrlC();
  // Carried on, not started over: no line was delivered twice, so the output holds at most
  // the lines the demo wrote (the files it writes are kept, rotations included).
  const demo: string[] = [];
  for (const dir of readdirSync(join(clone, 'var/demo')))
    for (const f of readdirSync(join(clone, 'var/demo', dir))) demo.push(join(clone, 'var/demo', dir, f));
  const delivered = lineCount(outputs().finished);
  expect(delivered).toBeGreaterThan(0);
  expect(delivered).toBeLessThanOrEqual(lineCount(demo));
}

/** The first line of an event as `sluice search` prints it. */
const EVENT_LINE = /^\d{4}-\d{2}-\d{2}T\S+ \S+ shop\/\S+ /;

async function search(steps: string[]): Promise<void> {
  const run = background(steps.find((s) => s.startsWith('npx sluice run '))!);
  try {
    await waitFor('sluice started (search demo)', () => run.logs().some((l) => l.msg === 'sluice started'), 120_000, run.stderr);
    for (const step of steps.filter((s) => s.startsWith('npx sluice search '))) {
      if (step.includes('--follow')) {
        const follow = background(step);
        await waitFor(`lines from: ${step}`, () => follow.stdout().split('\n').length > 3, 120_000, follow.stderr);
        await follow.ctrlC(); // npx ends on the signal itself; sluice search under it stops cleanly
        expect(follow.stderr()).not.toMatch(/\n\s+at /);
        continue;
      }
      const wanted = Number(/-n (\d+)/.exec(step)?.[1] ?? 1);
      // The demo writes Java stack traces: an event may span several lines (its newlines are
      // kept), so events are counted by the lines that start one.
      const eventLines = (stdout: string) => stdout.split('\n').filter((l) => EVENT_LINE.test(l));
      let r = sh(step);
      await waitFor(
        `${wanted} events from: ${step}`,
        () => {
          r = sh(step);
          return r.code === 0 && eventLines(r.stdout).length >= wanted;
        },
        120_000,
        () => `${r.code} ${r.stderr}`,
      );
      expect(r.stdout).toMatch(EVENT_LINE);
      expect(eventLines(r.stdout)).toHaveLength(wanted);
    }
  } finally {
    await run.ctrlC();
  }
}

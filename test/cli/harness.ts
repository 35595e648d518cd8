/**
 * Running the built CLI as users do, for the tests in test/cli: one-shot commands, and
 * long-running ones (`sluice run`) whose output is watched and which are stopped by signal.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitFor } from '../support/index.js';

export const REPO = join(import.meta.dirname, '../..');
export const CLI = join(REPO, 'dist/bin/sluice.js');
/** The shell entrypoint (npm's `sluice`, the Docker image's): it execs Node once, with no launcher beside the pipeline. */
export const ENTRYPOINT = join(REPO, 'bin/sluice.sh');

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * How to run `sluice ARGS`: `node CLI ARGS`, or the shell `entrypoint` with this Node first on
 * PATH (it runs `node` from there).
 */
function command(args: string[], entrypoint?: string): [string, string[], string] {
  return entrypoint
    ? [entrypoint, args, `${dirname(process.execPath)}:${process.env.PATH}`]
    : [process.execPath, [CLI, ...args], process.env.PATH ?? ''];
}

/** Runs `sluice ARGS` to its end, with only PATH from this environment unless `env` adds more. */
export function sluice(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, entrypoint?: string): Result {
  const [file, argv, path] = command(args, entrypoint);
  const r = spawnSync(file, argv, {
    encoding: 'utf8',
    env: { PATH: path, ...env },
    timeout: 60_000,
    ...(cwd ? { cwd } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Sluice's own log lines (JSON on stderr), parsed. */
  logs: () => Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Sends the signal and waits for the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

const running: ChildProcess[] = [];

/**
 * Starts `sluice ARGS` in the background; `stopAll()` in afterEach/afterAll kills what is left.
 * `entrypoint`: through that shell script (ENTRYPOINT, or a link to it), as `command` says.
 */
export function start(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, entrypoint?: string): Running {
  const [file, argv, path] = command(args, entrypoint);
  const child = spawn(file, argv, {
    env: { PATH: path, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  running.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const logs = () =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Waits for a log line with this message, failing with what was logged. */
export async function waitForLog(r: Running, msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  await waitFor(
    `log line "${msg}"`,
    () => r.logs().some((l) => l.msg === msg) || r.child.exitCode !== null,
    timeoutMs,
    () => r.stderr(),
  );
  const line = r.logs().find((l) => l.msg === msg);
  if (!line) throw new Error(`process exited (${r.child.exitCode}) before logging "${msg}": ${r.stderr()}`);
  return line;
}

export function stopAll(): void {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A pipeline of the demo source, a file source over it and the disk channel, plus `sinks`. */
export function demoPipeline(dir: string, sinks: string, extra = ''): string {
  return [
    `data_dir: ${dir}/state`,
    'sources:',
    '  demo:',
    '    type: demo',
    `    dir: ${dir}/demo`,
    '    rate: 100',
    '  files:',
    '    type: file',
    `    include: ["${dir}/demo/*/*.log"]`,
    `    path_pattern: "${dir}/demo/{service}/{module}.log"`,
    'channel:',
    '  type: disk',
    'sinks:',
    sinks,
    extra,
  ].join('\n');
}

/** The children of a process, from /proc (empty when it has none). */
export function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Whether a process runs (a zombie does not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A collector config at `dir/collector.yaml` whose Kafka and Elasticsearch are addresses
 * where nothing listens: a collector starts all the same (and its workers, shared by them).
 */
export function unreachableCollector(dir: string): string {
  return writeFile(
    dir,
    'collector.yaml',
    [
      `data_dir: ${join(dir, 'data')}`,
      'bus: { type: kafka, client: kafkajs, brokers: 127.0.0.1:1, topic: t }',
      'sinks: { search: { type: elasticsearch, url: "http://127.0.0.1:1" } }',
      'api: { enabled: false }',
    ].join('\n'),
  );
}

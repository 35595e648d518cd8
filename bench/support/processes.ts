/**
 * What the end-to-end benchmarks (run, latency) share: the built CLI started as a real
 * process, its CPU time and memory read from /proc, and waiting on conditions.
 * In a folder of its own so that bench/run.mjs does not list it as a benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The entrypoint users run (npm's `sluice`, the image's): it execs Node, so the process started is the pipeline. */
export const ENTRYPOINT = join(import.meta.dirname, '../../../bin/sluice.sh');
const TICKS = 100; // USER_HZ on Linux
export const MiB = 1024 * 1024;

export interface Sluice {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stderr (its JSON log) so far. */
  stderr(): string;
  /** SIGTERM, then the exit code (a signal counts as failure). */
  stop(): Promise<number>;
}

/** `sluice ROLE -c CONFIG ARGS…` with JSON logs on stderr; stdout is ignored. */
export function startSluice(role: 'run' | 'agent' | 'collector', config: string, args: string[] = []): Sluice {
  const child = spawn(ENTRYPOINT, [role, '-c', config, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: entrypointEnv({ ...process.env, SLUICE_LOG_FORMAT: 'json' }),
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  return {
    child,
    pid: child.pid!,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** `env` with this Node first on PATH: the entrypoint runs `node`, and must run the one benchmarked. */
export function entrypointEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PATH: `${dirname(process.execPath)}:${env.PATH ?? ''}` };
}

/** Resolves once the process logged "sluice started"; rejects with its log if it exits first. */
export async function started(s: Sluice, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    () => {
      if (s.child.exitCode !== null) throw new Error(`sluice exited with ${s.child.exitCode}: ${s.stderr().slice(-2000)}`);
      return s.stderr().includes('"msg":"sluice started"') ? true : undefined;
    },
    timeoutMs,
    () => s.stderr(),
  );
}

/** User + system CPU seconds of a process, its threads included (utime and stime of /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name: state is the 3rd field, utime the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Resident memory now and its high-water mark (VmRSS, VmHWM of /proc/PID/status), in MiB. */
export function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { now: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** Polls `get` every `everyMs` until it returns a value; throws with `describe()`'s tail after `timeoutMs`. */
export async function waitFor<T>(get: () => T | undefined, timeoutMs: number, describe: () => string, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench timed out: ${describe().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { interpolateEnv } from '../config/interpolate.js';
import { type BudgetRole, DEFAULT_MEMORY_LIMIT, heapFlags, MIN_MEMORY_LIMIT } from '../config/memory-budget.js';
import { parseByteSize } from '../core/unit-text.js';

/**
 * The launcher of `sluice agent | collector | run`. V8 sizes its heap when the process
 * starts and ignores later changes, so the budget of `memory_limit:` (config/memory-budget.ts)
 * can only be applied to a new Node process. bin/sluice.sh, the installed entrypoint, asks
 * `launchPlan` (bin/exec-plan.ts) and execs Node itself. Started as `node dist/bin/sluice.js`,
 * this one reads the limit, starts the pipeline in a child with `--max-old-space-size` /
 * `--max-semi-space-size` (and glibc's arenas capped), and stays as a thin parent: it
 * forwards signals and exits as the child did (Node 20 cannot exec).
 * It loads only Node's built-ins and the YAML parser: every other command runs in-process.
 *
 * The child runs in its own process group, so a Ctrl-C reaches it once (a second SIGINT
 * would make it exit without draining), and watches its IPC channel: a launcher killed
 * outright (SIGKILL) takes the child with it at once, as a crash of the one process would.
 */

/** Set in the child, with the budget in bytes: it runs the pipeline itself. */
export const MEMORY_LIMIT_ENV = 'SLUICE_MEMORY_LIMIT';

const ROLES: readonly string[] = ['agent', 'collector', 'run'] satisfies BudgetRole[];
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface Launch {
  role: BudgetRole;
  limit: number;
  flags: string[];
}

/** What to start for this command line, or undefined when it runs in this process. */
export function launchPlan(args: readonly string[], env: NodeJS.ProcessEnv): Launch | undefined {
  if (env[MEMORY_LIMIT_ENV] !== undefined) return undefined;
  let role: string | undefined;
  let config: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === '--log-level') i++;
    else if (a === '-c' || a === '--config') config = args[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a.startsWith('-c') && a.length > 2) config = a.slice(2);
    else if (!a.startsWith('-') && role === undefined) role = a;
  }
  if (role === undefined || !ROLES.includes(role)) return undefined;
  const limit = (config && readMemoryLimit(config, env)) || DEFAULT_MEMORY_LIMIT[role as BudgetRole];
  return { role: role as BudgetRole, limit, flags: heapFlags(limit) };
}

/**
 * `memory_limit:` of the file, environment substituted as the config loader does. Anything
 * unreadable or invalid gives undefined (the role's default): the child validates the file
 * and reports the problem with its line and column.
 */
export function readMemoryLimit(file: string, env: NodeJS.ProcessEnv): number | undefined {
  try {
    const doc = parseDocument(readFileSync(file, 'utf8'));
    if (doc.errors.length > 0) return undefined;
    if (interpolateEnv(doc, env).problems.length > 0) return undefined;
    const value = doc.get('memory_limit');
    const bytes = typeof value === 'string' ? parseByteSize(value) : undefined;
    return bytes !== undefined && bytes >= MIN_MEMORY_LIMIT ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the pipeline child runs: the bundle of the CLI (rolldown.config.ts: a sidecar idles
 * about 6 MiB lower on it) when it is from the same build as the modules beside it, else
 * `entry`. A bundle older than the compiled cli.js is from an earlier build (tsc was run
 * alone since) and would run old code.
 */
export function pipelineScript(entry: string, here: string = import.meta.url): string {
  const bundle = fileURLToPath(new URL('../bundle/sluice.js', here));
  try {
    let compiled = 0;
    try {
      compiled = statSync(fileURLToPath(new URL('./cli.js', here))).mtimeMs;
    } catch {
      // Running from the bundle itself: no compiled modules beside it.
    }
    if (statSync(bundle).mtimeMs >= compiled) return bundle;
  } catch {
    // No bundle built.
  }
  return entry;
}

/** Runs `script args` in a child sized by `plan`; exits with its exit code (or dies of its signal). */
export function relaunch(plan: Launch, script: string, args: readonly string[]): void {
  const child = spawn(process.execPath, [...process.execArgv, ...plan.flags, script, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: {
      ...process.env,
      [MEMORY_LIMIT_ENV]: String(plan.limit),
      // One malloc arena per thread (libuv's pool, librdkafka's threads) keeps what a burst
      // freed in arenas of its own, never given back; two arenas let memory return.
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    },
  });
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    process.stderr.write(`sluice: cannot start ${plan.role}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    // Killed by a signal: die of the same one, so whoever supervises sees what happened.
    for (const s of FORWARDED) process.removeAllListeners(s);
    process.kill(process.pid, signal ?? 'SIGKILL');
  });
}

const exitEarly = () => process.exit(0);

/**
 * In the pipeline process, before the CLI's modules load: a SIGTERM then (an orchestrator
 * stopping a container that just started) finds nothing open, so exiting 0 is the clean stop,
 * not Node's default death with 143. The CLI ends this once it listens itself (core/lifecycle.ts).
 */
export function exitOnEarlySignals(): void {
  if (process.env[MEMORY_LIMIT_ENV] === undefined) return;
  // From the first line: a launcher SIGKILLed while this process loaded its modules must
  // not leave it running on, holding the channel's lock. A collector's workers (forked by
  // their supervisor, --worker) follow the supervisor instead (bin/workers.ts).
  if (!process.argv.includes('--worker')) followLauncher();
  process.on('SIGTERM', exitEarly);
  process.on('SIGINT', exitEarly);
  // The launcher forwards every SIGHUP (`systemctl reload`), and Node's default for one is
  // to die: a reload asked for while the pipeline starts or drains would crash it. This
  // listener stays for the life of the process; the pipeline reloads on the signals it gets
  // while it runs (bin/operate.ts), and on one that came while it started (earlyReload).
  process.on('SIGHUP', noteEarlyHup);
}

let earlyHup = false;
function noteEarlyHup(): void {
  earlyHup = true;
}

/** Whether a SIGHUP came before the pipeline listened for it itself (then the file it read may be stale); asks once. */
export function earlyReload(): boolean {
  const asked = earlyHup;
  earlyHup = false;
  return asked;
}

export function endEarlySignals(): void {
  process.off('SIGTERM', exitEarly);
  process.off('SIGINT', exitEarly);
}

/** In the child: the IPC channel must not keep it alive, and its end means the launcher was killed. */
function followLauncher(): void {
  // Started with an IPC channel (process.send exists), as the launcher starts it.
  if (process.env[MEMORY_LIMIT_ENV] === undefined || typeof process.send !== 'function') return;
  // The launcher died while this process loaded: the channel is gone already, and its
  // 'disconnect' was emitted before anyone listened.
  if (!process.connected || !process.channel) {
    process.kill(process.pid, 'SIGKILL');
    return;
  }
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

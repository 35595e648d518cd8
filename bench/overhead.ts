/**
 * `npm run bench -- overhead [EVENTS] [ROUNDS]`: what the HTTP API costs the pipeline. The
 * built CLI runs `sluice run` (file source → disk channel → in-process bus → console sink)
 * over the same pre-written file, alternately with the API off and with it on and scraped
 * every second (/metrics and /ready, as Prometheus and a kubelet would), ROUNDS times each.
 * The figure is events per CPU-second of the Sluice process (user + system, from
 * /proc/<pid>/stat), so the machine's other load matters less than wall time would; the
 * best round of each mode is compared. The scraper's own CPU is not counted: it is the
 * Prometheus server's.
 * Final line: {"bench":"overhead","events":…,"off_events_per_cpu_s":…,"on_events_per_cpu_s":…,"overhead_pct":…,…}
 */
import { spawn } from 'node:child_process';
import { createWriteStream, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../api/client.js';
import { cpuSeconds, ENTRYPOINT, entrypointEnv } from './support/processes.js';

const events = Number(process.argv[2] ?? 300_000);
const rounds = Number(process.argv[3] ?? 2);
const LINE_BYTES = 200;

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-overhead-'));
try {
  const log = join(dir, 'app.log');
  await generate(log, events);
  const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
  let scrapes = 0;
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['off', 'on'] as const) {
      const run = await once(mode, r, log);
      results[mode].push(events / run.cpuSeconds);
      scrapes += run.scrapes;
      console.error(`round ${r + 1} api ${mode}: ${Math.round(events / run.cpuSeconds)} events/cpu-s (${run.cpuSeconds.toFixed(2)} cpu-s)`);
    }
  }
  const off = Math.max(...results.off);
  const on = Math.max(...results.on);
  console.log(
    JSON.stringify({
      bench: 'overhead',
      events,
      rounds,
      off_events_per_cpu_s: Math.round(off),
      on_events_per_cpu_s: Math.round(on),
      overhead_pct: Math.round(((off - on) / off) * 1000) / 10,
      scrapes,
      off_rounds: results.off.map(Math.round),
      on_rounds: results.on.map(Math.round),
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

async function once(mode: 'off' | 'on', round: number, log: string): Promise<{ cpuSeconds: number; scrapes: number }> {
  const work = join(dir, `${mode}-${round}`);
  const config = join(dir, `${mode}-${round}.yaml`);
  writeFileSync(
    config,
    [
      `data_dir: ${work}`,
      'log: { level: warn }',
      'sources:',
      `  app: { type: file, include: ["${log}"], start_at: beginning }`,
      'channel: { type: disk, max_bytes: 1GiB }',
      'sinks:',
      '  out: { type: console }',
      mode === 'on' ? 'api: { address: "127.0.0.1:0" }' : 'api: { enabled: false }',
      '',
    ].join('\n'),
  );
  const out = join(dir, `${mode}-${round}.out`);
  const stdout = createWriteStream(out);
  await new Promise((resolve) => stdout.once('open', resolve));
  // info for the "api listening" line only when the api is on; warn otherwise.
  const child = spawn(ENTRYPOINT, ['run', '-c', config, ...(mode === 'on' ? ['--log-level', 'info'] : [])], {
    stdio: ['ignore', stdout, 'pipe'],
    env: entrypointEnv({ PATH: process.env.PATH, SLUICE_LOG_FORMAT: 'json' }),
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let scrapes = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (mode === 'on') {
      const url = await waitFor(
        () => /"url":"(http:\/\/[^"]+)"/.exec(stderr)?.[1],
        30_000,
        () => stderr,
      );
      const target = { url: new URL(url) };
      timer = setInterval(() => {
        void Promise.all([call(target, '/metrics'), call(target, '/ready')]).then(
          () => scrapes++,
          () => undefined,
        );
      }, 1000);
    }
    await waitFor(
      () => (statSync(out).size >= events * LINE_BYTES ? true : undefined),
      600_000,
      () => stderr,
    );
    // The entrypoint execs Node: the process started is the pipeline, whose CPU is what the API costs.
    return { cpuSeconds: cpuSeconds(child.pid!), scrapes };
  } finally {
    clearInterval(timer);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    stdout.close();
  }
}

async function waitFor<T>(get: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench timed out: ${describe().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `count` lines of exactly LINE_BYTES bytes with the newline. */
async function generate(path: string, count: number): Promise<void> {
  const stream = createWriteStream(path);
  const pad = 'x'.repeat(LINE_BYTES);
  for (let i = 0; i < count; i++) {
    const head = `2024-05-01T12:00:00.000Z INFO [worker-${i % 16}] request ${i} handled `;
    if (!stream.write(`${head}${pad.slice(head.length + 1)}\n`)) await new Promise<void>((r) => stream.once('drain', () => r()));
  }
  await new Promise<void>((resolve) => stream.end(resolve));
}

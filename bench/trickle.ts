/**
 * `npm run bench -- trickle`: what `sluice run` costs in the steady state of a sidecar, a
 * trickle of lines over many files rather than a backlog — the built CLI, file source →
 * disk channel → in-process bus → file sink, as `bench run` has it. BENCH_FILES (100) files
 * in one directory get BENCH_RATE (300) lines per second in all, LINE_BYTES (200) each, in
 * turn, every 10 ms, for BENCH_SECONDS (20) s.
 * Reports the CPU-seconds of the Sluice process (user + system of all its threads,
 * /proc/PID/stat) over the trickle and as a share of one core, the bytes it wrote
 * (/proc/PID/io wchar: channel, checkpoints, sink, journals) per byte of log, and, after a
 * clean stop, whether the output holds every line once.
 * Final line: {"bench":"trickle","files":…,"cpu_s":…,"core_share":…,"written_per_log_byte":…,"exactly_once":…}
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { leadingNumber, OutputTree } from './support/output.js';
import { cpuSeconds, MiB, round, rss, started, startSluice, waitFor } from './support/processes.js';

const LINE_BYTES = 200;
const FILES = Number(process.env.BENCH_FILES ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 300);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const TICK_MS = 10;

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-trickle-'));
try {
  const logs = join(dir, 'logs');
  const out = join(dir, 'out');
  await mkdir(logs);
  for (let f = 0; f < FILES; f++) writeFileSync(join(logs, `f${f}.log`), '');
  const config = join(dir, 'sluice.yaml');
  writeFileSync(
    config,
    [
      `data_dir: ${join(dir, 'state')}`,
      'log: { level: warn }',
      'sources:',
      `  app: { type: file, include: ["${logs}/*.log"], service: bench, module: app }`,
      'channel: { type: disk, max_bytes: 256MiB }',
      'sinks:',
      `  out: { type: file, root: "${out}" }`,
      'api: { enabled: false }',
      '',
    ].join('\n'),
  );
  const sluice = startSluice('run', config, ['--log-level', 'info']);
  await started(sluice);
  const cpu0 = cpuSeconds(sluice.pid);
  const written0 = wchar(sluice.pid);
  const clock = performance.now();
  let lines = 0;
  // Lines are written in turn over the files, as many per tick as keeps the rate.
  while (performance.now() - clock < SECONDS * 1000) {
    const due = Math.floor(((performance.now() - clock) / 1000) * RATE);
    for (; lines < due; lines++) await appendFile(join(logs, `f${lines % FILES}.log`), line(lines));
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  const seconds = (performance.now() - clock) / 1000;
  const tree = new OutputTree(out);
  await waitFor(
    () => (tree.bytes() >= lines * LINE_BYTES ? true : undefined),
    60_000,
    () => `${tree.bytes()} of ${lines * LINE_BYTES} bytes in the sink; ${sluice.stderr()}`,
    50,
  );
  const cpu = cpuSeconds(sluice.pid) - cpu0;
  const written = wchar(sluice.pid) - written0;
  const memory = rss(sluice.pid);
  const exitCode = await sluice.stop();
  const check = verify(tree, lines);
  tree.close();
  console.log(
    JSON.stringify({
      bench: 'trickle',
      files: FILES,
      lines_per_s: RATE,
      seconds: round(seconds, 2),
      lines,
      cpu_s: round(cpu, 2),
      core_share: round(cpu / seconds, 3),
      written_mib: round(written / MiB, 2),
      written_per_log_byte: round(written / (lines * LINE_BYTES), 1),
      rss_peak_mib: round(memory.peak),
      ...check,
      exit_code: exitCode,
      loadavg_1m: round(loadavg()[0]!, 2),
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** Bytes the process passed to write calls so far. */
function wchar(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
}

/** Line i: LINE_BYTES bytes with its newline, numbered in its first 10 characters. */
function line(i: number): string {
  const head = `${String(i).padStart(10, '0')} 2024-05-01T12:00:00.000Z INFO request ${i} handled `;
  return `${head.padEnd(LINE_BYTES - 1, 'x')}\n`;
}

/** Each line's number seen exactly once, every line whole. */
function verify(tree: OutputTree, total: number) {
  const seen = new Uint8Array(total);
  let duplicates = 0;
  let bad = 0;
  const out = tree.read((l) => {
    const { value, end } = leadingNumber(l);
    if (end !== 10 || l.length !== LINE_BYTES - 1 || value >= total) bad++;
    else if (seen[value]! > 0) duplicates++;
    else seen[value] = 1;
  });
  let missing = 0;
  for (let i = 0; i < total; i++) if (seen[i] === 0) missing++;
  return {
    lines_out: out,
    missing,
    duplicates,
    bad_lines: bad,
    exactly_once: out === total && missing === 0 && duplicates === 0 && bad === 0,
  };
}

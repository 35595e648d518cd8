/**
 * `npm run bench -- run [backlog|live]`: `sluice run` end to end, as a user runs it — the
 * built CLI, file source → disk channel → in-process bus → file sink — on lines of
 * LINE_BYTES (200) bytes, BENCH_MIB (200) MiB of them.
 *   backlog: the file is written first, then Sluice started on it.
 *   live:    Sluice is started on an empty file; once it has started, the bench appends
 *            the same bytes as fast as the disk takes them, in 1 MiB writes.
 * The clock stops when the sink's files hold every byte.
 * Each mode reports MiB/s and CPU-seconds per GiB of the Sluice process (user + system of
 * all its threads, /proc/PID/stat) from its "sluice started" line on (what was still to
 * deliver then: startup is reported apart, and with it in `with_startup_*`), its peak RSS
 * (VmHWM) and RSS after the work, and, after a
 * clean stop, what the output holds: every line is numbered, so `exactly_once` means each
 * of the `lines` numbers was found once and nothing else was (`missing`, `duplicates`,
 * `bad_lines` say otherwise).
 * Final line: {"bench":"run","backlog":{…},"live":{…}}
 */
import { writeFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { leadingNumber, OutputTree } from './support/output.js';
import { cpuSeconds, MiB, round, rss, type Sluice, started, startSluice, waitFor } from './support/processes.js';

const LINE_BYTES = 200;
const TOTAL_MIB = Number(process.env.BENCH_MIB ?? 200);
const LINES = Math.floor((TOTAL_MIB * MiB) / LINE_BYTES);
const BYTES = LINES * LINE_BYTES;
const CHUNK_LINES = Math.floor(MiB / LINE_BYTES);
const modes = process.argv[2] ? [process.argv[2]] : ['backlog', 'live'];
for (const m of modes) {
  if (m !== 'backlog' && m !== 'live') {
    console.error(`usage: npm run bench -- run [backlog|live]; got ${JSON.stringify(m)}`);
    process.exit(2);
  }
}

interface Result {
  mib: number;
  seconds: number;
  mib_per_s: number;
  cpu_s: number;
  cpu_s_per_gib: number;
  rss_peak_mib: number;
  rss_after_mib: number;
  lines: number;
  lines_out: number;
  missing: number;
  duplicates: number;
  bad_lines: number;
  exactly_once: boolean;
  exit_code: number;
  startup_s: number;
  with_startup_mib_per_s: number;
  with_startup_cpu_s: number;
  writer_s?: number;
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-run-'));
const results: Record<string, Result> = {};
try {
  for (const mode of modes as ('backlog' | 'live')[]) {
    results[mode] = await once(mode);
    console.error(`${mode}: ${JSON.stringify(results[mode])}`);
  }
  console.log(JSON.stringify({ bench: 'run', line_bytes: LINE_BYTES, ...results, loadavg_1m: round(loadavg()[0]!, 2) }));
} finally {
  await rm(dir, { recursive: true, force: true });
}

async function once(mode: 'backlog' | 'live'): Promise<Result> {
  const work = join(dir, mode);
  const log = join(dir, `${mode}.log`);
  const out = join(work, 'out');
  const config = join(dir, `${mode}.yaml`);
  writeFileSync(
    config,
    [
      `data_dir: ${join(work, 'state')}`,
      'log: { level: warn }',
      'sources:',
      `  app: { type: file, include: ["${log}"], start_at: beginning, service: bench, module: app }`,
      'channel: { type: disk, max_bytes: 2GiB }',
      'sinks:',
      `  out: { type: file, root: "${out}" }`,
      'api: { enabled: false }',
      '',
    ].join('\n'),
  );
  if (mode === 'backlog') {
    for (let i = 0; i < LINES; i += CHUNK_LINES) await appendFile(log, lines(i, Math.min(CHUNK_LINES, LINES - i)));
  } else {
    await writeFile(log, '');
  }
  const tree = new OutputTree(out);
  const t0 = performance.now();
  // info for the "sluice started" line; nothing else is logged at info while it works.
  const sluice = startSluice('run', config, ['--log-level', 'info']);
  let exitCode = 1;
  try {
    await started(sluice);
    const startup = (performance.now() - t0) / 1000;
    // The figures leave startup out (module loading and recovery; seconds on a loaded
    // machine): from "sluice started" on, what was still to deliver over the time and CPU it took.
    const clock = performance.now();
    const cpu0 = cpuSeconds(sluice.pid);
    const before = tree.bytes();
    let writer: number | undefined;
    if (mode === 'live') {
      for (let i = 0; i < LINES; i += CHUNK_LINES) await appendFile(log, lines(i, Math.min(CHUNK_LINES, LINES - i)));
      writer = (performance.now() - clock) / 1000;
    }
    await waitFor(
      () => {
        if (sluice.child.exitCode !== null) throw new Error(`sluice exited with ${sluice.child.exitCode}: ${sluice.stderr().slice(-2000)}`);
        return tree.bytes() >= BYTES ? true : undefined;
      },
      1_800_000,
      () => `${tree.bytes()} of ${BYTES} bytes in the sink; ${sluice.stderr()}`,
      50,
    );
    const now = performance.now();
    const seconds = (now - clock) / 1000;
    const cpuTotal = cpuSeconds(sluice.pid);
    const cpu = cpuTotal - cpu0;
    const moved = BYTES - before;
    const memory = rss(sluice.pid);
    exitCode = await sluice.stop();
    const check = verify(tree);
    return {
      mib: round(moved / MiB),
      seconds: round(seconds, 2),
      mib_per_s: round(moved / MiB / seconds),
      cpu_s: round(cpu, 2),
      cpu_s_per_gib: round(cpu / (moved / 1024 / MiB), 2),
      rss_peak_mib: round(memory.peak),
      rss_after_mib: round(memory.now),
      startup_s: round(startup, 2),
      with_startup_mib_per_s: round(BYTES / MiB / ((now - t0) / 1000)),
      with_startup_cpu_s: round(cpuTotal, 2),
      lines: LINES,
      ...check,
      exit_code: exitCode,
      ...(writer === undefined ? {} : { writer_s: round(writer, 2) }),
    };
  } finally {
    await stopQuietly(sluice);
    tree.close();
    await rm(work, { recursive: true, force: true });
    await rm(log, { force: true });
  }
}

async function stopQuietly(s: Sluice): Promise<void> {
  try {
    await s.stop();
  } catch {
    // already gone
  }
}

/** Reads the whole output after the stop: each line's number seen exactly once, every line whole. */
function verify(tree: OutputTree): Pick<Result, 'lines_out' | 'missing' | 'duplicates' | 'bad_lines' | 'exactly_once'> {
  const seen = new Uint8Array(LINES);
  let duplicates = 0;
  let bad = 0;
  const linesOut = tree.read((line) => {
    const { value, end } = leadingNumber(line);
    if (end !== 10 || line.length !== LINE_BYTES - 1 || value >= LINES) {
      bad++;
      return;
    }
    if (seen[value]! > 0) duplicates++;
    else seen[value] = 1;
  });
  let missing = 0;
  for (let i = 0; i < LINES; i++) if (seen[i] === 0) missing++;
  return {
    lines_out: linesOut,
    missing,
    duplicates,
    bad_lines: bad,
    exactly_once: linesOut === LINES && missing === 0 && duplicates === 0 && bad === 0,
  };
}

/** Lines first … first+count-1, each LINE_BYTES bytes with its newline, numbered in its first 10 characters. */
function lines(first: number, count: number): Buffer {
  const buf = Buffer.alloc(count * LINE_BYTES, 'x');
  for (let k = 0; k < count; k++) {
    const i = first + k;
    const head = `${String(i).padStart(10, '0')} 2024-05-01T12:00:00.000Z INFO [worker-${i % 16}] request ${i} handled `;
    const at = k * LINE_BYTES;
    buf.write(head, at, 'latin1');
    buf[at + LINE_BYTES - 1] = 10;
  }
  return buf;
}
